-- name: opt_in_rate
-- description: The retailer's customers in the chosen regions by their consent for this template's purpose: people with consent (consented TRUE) and without (FALSE), and the opt-in rate consented / total with its interval, computed after noise (the report's opt_in member)
-- purpose: measurement
-- consent: customers
-- param: regions list[str] = ["north", "south", "east", "west"]
SELECT
    c.consented,
    COUNT(DISTINCT c.pid) AS people
FROM customers AS c
WHERE c.region IN :regions
GROUP BY c.consented
