-- name: incrementality_lift
-- description: Shoppers, brand buyers and brand sales per cell of each campaign's randomized holdout test (lift is computed after noise)
-- purpose: measurement
-- param: campaign_ids list[str] = ["c1", "c2", "c3", "c4"]
-- param: brands list[str] = ["acme"]
-- param: measure_days int = 42
-- bounds: sales 0 30000
-- lift: cell test holdout
WITH cells AS (
    SELECT pid, campaign_id, cell, assigned_ts
    FROM holdout
    WHERE randomized = 'yes'
        AND campaign_id IN :campaign_ids
),
per_person AS (
    SELECT
        c.pid,
        c.campaign_id,
        c.cell,
        COUNT(t.txn_ts) AS orders,
        COALESCE(SUM(t.amount_cents), 0) AS sales
    FROM cells AS c
    LEFT JOIN transactions AS t
        ON t.pid = c.pid
        AND t.brand IN :brands
        AND t.txn_ts >= c.assigned_ts
        AND t.txn_ts < c.assigned_ts + INTERVAL (:measure_days) DAY
    GROUP BY c.pid, c.campaign_id, c.cell
)
SELECT
    campaign_id,
    cell,
    COUNT(DISTINCT pid) AS users,
    COUNT(DISTINCT pid) FILTER (WHERE orders > 0) AS buyers,
    SUM(sales) AS sales
FROM per_person
GROUP BY campaign_id, cell
