-- name: audience_composition
-- description: Who one campaign reached and converted, by age band (a sensitive attribute), against the eligible population (every customer): the bias test of a campaign's delivery
-- purpose: fairness
-- param: campaign_id str = "c3"
-- param: brands list[str] = ["acme"]
-- param: window_days int = 14
WITH reached AS (
    SELECT pid, MIN(exposure_ts) AS first_ts
    FROM exposures
    WHERE campaign_id = :campaign_id
    GROUP BY pid
),
converted AS (
    SELECT r.pid, COUNT(*) AS orders
    FROM reached AS r
    JOIN transactions AS t
        ON t.pid = r.pid
        AND t.brand IN :brands
        AND t.txn_ts >= r.first_ts
        AND t.txn_ts < r.first_ts + INTERVAL (:window_days) DAY
    GROUP BY r.pid
)
SELECT
    c.age_band,
    COUNT(DISTINCT c.pid) AS eligible,
    COUNT(DISTINCT c.pid) FILTER (WHERE r.pid IS NOT NULL) AS reached,
    COUNT(DISTINCT c.pid) FILTER (WHERE v.pid IS NOT NULL) AS converted
FROM customers AS c
LEFT JOIN reached AS r ON r.pid = c.pid
LEFT JOIN converted AS v ON v.pid = c.pid
GROUP BY c.age_band
