-- name: exposed_conversion
-- description: Exposed shoppers, buyers and brand sales within N days of each shopper's first exposure, by campaign
-- purpose: measurement
-- param: campaign_ids list[str] = ["c1", "c2", "c3", "c4"]
-- param: brands list[str] = ["acme"]
-- param: window_days int = 14
-- bounds: sales 0 20000
WITH first_exposure AS (
    SELECT pid, campaign_id, MIN(exposure_ts) AS first_ts
    FROM exposures
    WHERE campaign_id IN :campaign_ids
    GROUP BY pid, campaign_id
),
per_person AS (
    SELECT
        f.pid,
        f.campaign_id,
        COUNT(t.txn_ts) AS orders,
        COALESCE(SUM(t.amount_cents), 0) AS sales
    FROM first_exposure AS f
    LEFT JOIN transactions AS t
        ON t.pid = f.pid
        AND t.brand IN :brands
        AND t.txn_ts >= f.first_ts
        AND t.txn_ts < f.first_ts + INTERVAL (:window_days) DAY
    GROUP BY f.pid, f.campaign_id
)
SELECT
    campaign_id,
    COUNT(DISTINCT pid) AS exposed_shoppers,
    COUNT(DISTINCT pid) FILTER (WHERE orders > 0) AS buyers,
    SUM(sales) AS sales
FROM per_person
GROUP BY campaign_id
