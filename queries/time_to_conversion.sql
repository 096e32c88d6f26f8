-- name: time_to_conversion
-- description: Exposed buyers by calendar days from first exposure to first brand purchase (within N days), bucketed, by campaign
-- purpose: measurement
-- param: campaign_ids list[str] = ["c1", "c2", "c3", "c4"]
-- param: brands list[str] = ["acme"]
-- param: window_days int = 28
WITH first_exposure AS (
    SELECT pid, campaign_id, MIN(exposure_ts) AS first_ts
    FROM exposures
    WHERE campaign_id IN :campaign_ids
    GROUP BY pid, campaign_id
),
first_purchase AS (
    SELECT
        f.pid,
        f.campaign_id,
        DATE_DIFF('day', f.first_ts, MIN(t.txn_ts)) AS days_to_purchase
    FROM first_exposure AS f
    INNER JOIN transactions AS t
        ON t.pid = f.pid
        AND t.brand IN :brands
        AND t.txn_ts >= f.first_ts
        AND t.txn_ts < f.first_ts + INTERVAL (:window_days) DAY
    GROUP BY f.pid, f.campaign_id, f.first_ts
)
SELECT
    campaign_id,
    CASE
        WHEN days_to_purchase < 1 THEN '0'
        WHEN days_to_purchase < 3 THEN '1-2'
        WHEN days_to_purchase < 7 THEN '3-6'
        WHEN days_to_purchase < 14 THEN '7-13'
        ELSE '14+'
    END AS days_bucket,
    COUNT(DISTINCT pid) AS buyers
FROM first_purchase
GROUP BY campaign_id, days_bucket
