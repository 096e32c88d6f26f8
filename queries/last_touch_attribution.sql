-- name: last_touch_attribution
-- description: Brand purchases credited to the last ad exposure within N days before each purchase, by campaign and placement
-- purpose: measurement
-- param: campaign_ids list[str] = ["c1", "c2", "c3", "c4"]
-- param: brands list[str] = ["acme"]
-- param: window_days int = 14
-- bounds: sales 0 20000
WITH touches AS (
    SELECT
        t.pid,
        t.txn_ts,
        t.amount_cents,
        e.campaign_id,
        e.placement
    FROM transactions AS t
    INNER JOIN exposures AS e
        ON e.pid = t.pid
        AND e.exposure_ts <= t.txn_ts
        AND e.exposure_ts > t.txn_ts - INTERVAL (:window_days) DAY
    WHERE t.brand IN :brands
        AND e.campaign_id IN :campaign_ids
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY t.pid, t.txn_ts
        ORDER BY e.exposure_ts DESC, e.campaign_id, e.placement
    ) = 1
)
SELECT
    campaign_id,
    placement,
    COUNT(DISTINCT pid) AS attributed_buyers,
    COUNT(*) AS orders,
    SUM(amount_cents) AS sales
FROM touches
GROUP BY campaign_id, placement
