-- name: campaign_kpis
-- description: Campaign KPIs per campaign: exposed shoppers, buyers, orders, sales and repeat buyers in N days of the first exposure, 90-day sales, and the ratios (conversion rate, AOV, repeat-purchase rate, 90-day value per exposed shopper) computed after noise
-- purpose: measurement
-- param: campaign_ids list[str] = ["c1", "c2", "c3", "c4"]
-- param: brands list[str] = ["acme"]
-- param: window_days int = 14
-- param: value_days int = 90
-- bounds: orders 0 8
-- bounds: sales 0 8000
-- bounds: sales_90d 0 20000
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
        COUNT(CASE WHEN t.txn_ts < f.first_ts + INTERVAL (:window_days) DAY THEN t.txn_ts END)
            AS orders,
        COALESCE(SUM(CASE
            WHEN t.txn_ts < f.first_ts + INTERVAL (:window_days) DAY THEN t.amount_cents
            ELSE 0
        END), 0) AS sales,
        COALESCE(SUM(t.amount_cents), 0) AS sales_90d
    FROM first_exposure AS f
    LEFT JOIN transactions AS t
        ON t.pid = f.pid
        AND t.brand IN :brands
        AND t.txn_ts >= f.first_ts
        AND t.txn_ts < f.first_ts + INTERVAL (:value_days) DAY
    GROUP BY f.pid, f.campaign_id
)
SELECT
    campaign_id,
    COUNT(DISTINCT pid) AS exposed_shoppers,
    COUNT(DISTINCT pid) FILTER (WHERE orders > 0) AS buyers,
    COUNT(DISTINCT pid) FILTER (WHERE orders >= 2) AS repeat_buyers,
    SUM(orders) AS orders,
    SUM(sales) AS sales,
    SUM(sales_90d) AS sales_90d,
    COUNT(DISTINCT pid) FILTER (WHERE orders > 0) / COUNT(DISTINCT pid) AS conversion_rate,
    SUM(sales) / SUM(orders) AS aov,
    COUNT(DISTINCT pid) FILTER (WHERE orders >= 2)
        / COUNT(DISTINCT pid) FILTER (WHERE orders > 0) AS repeat_rate,
    SUM(sales_90d) / COUNT(DISTINCT pid) AS value_90d_per_exposed
FROM per_person
GROUP BY campaign_id
