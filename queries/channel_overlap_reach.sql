-- name: channel_overlap_reach
-- description: People reached and brand buyers by the combination of on-site, off-site and in-store channels they were exposed on
-- purpose: measurement
-- param: campaign_ids list[str] = ["c1", "c2", "c3", "c4"]
-- param: brands list[str] = ["acme"]
-- param: window_days int = 14
WITH per_person AS (
    SELECT
        pid,
        BOOL_OR(channel = 'onsite') AS onsite,
        BOOL_OR(channel = 'offsite') AS offsite,
        BOOL_OR(channel = 'instore') AS instore,
        MIN(exposure_ts) AS first_ts
    FROM exposures
    WHERE campaign_id IN :campaign_ids
    GROUP BY pid
),
converted AS (
    SELECT
        p.pid,
        p.onsite,
        p.offsite,
        p.instore,
        COUNT(t.txn_ts) AS orders
    FROM per_person AS p
    LEFT JOIN transactions AS t
        ON t.pid = p.pid
        AND t.brand IN :brands
        AND t.txn_ts >= p.first_ts
        AND t.txn_ts < p.first_ts + INTERVAL (:window_days) DAY
    GROUP BY p.pid, p.onsite, p.offsite, p.instore
)
SELECT
    CASE
        WHEN onsite AND offsite AND instore THEN 'onsite+offsite+instore'
        WHEN onsite AND offsite THEN 'onsite+offsite'
        WHEN onsite AND instore THEN 'onsite+instore'
        WHEN offsite AND instore THEN 'offsite+instore'
        WHEN onsite THEN 'onsite only'
        WHEN offsite THEN 'offsite only'
        ELSE 'instore only'
    END AS channels,
    COUNT(DISTINCT pid) AS reach,
    COUNT(DISTINCT pid) FILTER (WHERE orders > 0) AS buyers
FROM converted
GROUP BY channels
