-- name: new_to_brand
-- description: Exposed shoppers who bought the brand within N days of first exposure and had not bought it in the prior 365 days, by campaign
-- purpose: measurement
-- param: campaign_ids list[str] = ["c1", "c2", "c3", "c4"]
-- param: brands list[str] = ["acme"]
-- param: window_days int = 14
-- param: lookback_days int = 365
-- bounds: sales 0 20000
WITH first_exposure AS (
    SELECT pid, campaign_id, MIN(exposure_ts) AS first_ts
    FROM exposures
    WHERE campaign_id IN :campaign_ids
    GROUP BY pid, campaign_id
),
window_purchases AS (
    SELECT
        f.pid,
        f.campaign_id,
        t.amount_cents
    FROM first_exposure AS f
    INNER JOIN transactions AS t
        ON t.pid = f.pid
        AND t.brand IN :brands
        AND t.txn_ts >= f.first_ts
        AND t.txn_ts < f.first_ts + INTERVAL (:window_days) DAY
    WHERE NOT EXISTS (
        SELECT 1
        FROM transactions AS p
        WHERE p.pid = f.pid
            AND p.brand IN :brands
            AND p.txn_ts < f.first_ts
            AND p.txn_ts >= f.first_ts - INTERVAL (:lookback_days) DAY
    )
)
SELECT
    campaign_id,
    COUNT(DISTINCT pid) AS new_to_brand_buyers,
    COUNT(*) AS orders,
    SUM(amount_cents) AS sales
FROM window_purchases
GROUP BY campaign_id
