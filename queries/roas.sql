-- name: roas
-- description: Last-touch attributed brand sales by campaign against the advertiser's campaign spend (ROAS computed after noise)
-- purpose: measurement
-- param: campaign_ids list[str] = ["c1", "c2", "c3", "c4"]
-- param: brands list[str] = ["acme"]
-- param: window_days int = 14
-- bounds: attributed_sales 0 20000
WITH attributed AS (
    SELECT
        t.pid,
        t.amount_cents,
        e.campaign_id
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
    a.campaign_id,
    s.spend_cents,
    COUNT(DISTINCT a.pid) AS attributed_buyers,
    SUM(a.amount_cents) AS attributed_sales,
    SUM(a.amount_cents) / s.spend_cents AS roas
FROM attributed AS a
INNER JOIN campaign_spend AS s
    ON s.campaign_id = a.campaign_id
GROUP BY a.campaign_id, s.spend_cents
