-- name: audience_size
-- description: Size by region of an activatable segment: CRM segment members who shop the categories recently, excluding recent brand buyers
-- purpose: audience_sizing
-- param: crm_segments list[str] = ["lapsed", "prospect"]
-- param: categories list[str] = ["snacks", "beverages"]
-- param: brands list[str] = ["acme"]
-- param: as_of date = "2025-07-01"
-- param: lookback_days int = 90
SELECT
    c.region,
    COUNT(DISTINCT c.pid) AS audience_size
FROM customers AS c
INNER JOIN crm AS a
    ON a.pid = c.pid
WHERE a.segment IN :crm_segments
    AND EXISTS (
        SELECT 1
        FROM transactions AS t
        WHERE t.pid = c.pid
            AND t.category IN :categories
            AND t.txn_ts >= :as_of - INTERVAL (:lookback_days) DAY
            AND t.txn_ts < :as_of
    )
    AND NOT EXISTS (
        SELECT 1
        FROM transactions AS b
        WHERE b.pid = c.pid
            AND b.brand IN :brands
            AND b.txn_ts >= :as_of - INTERVAL (:lookback_days) DAY
            AND b.txn_ts < :as_of
    )
GROUP BY c.region
