-- name: crm_sales
-- description: Buyers and sales of the brands among the advertiser's CRM list, per CRM segment
-- purpose: measurement
-- param: brands list[str] = ["acme"]
SELECT
    a.segment,
    COUNT(DISTINCT t.pid) AS buyers,
    SUM(t.amount_cents) AS sales
FROM crm AS a
INNER JOIN transactions AS t
    ON t.pid = a.pid
WHERE t.brand IN :brands
GROUP BY a.segment
