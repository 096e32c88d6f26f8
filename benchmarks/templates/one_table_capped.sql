-- name: one_table_capped
-- description: Buyers and sales per brand, category and purchase channel from one table: 32 groups and at most 8 per person, so the per-person group cap binds (a benchmark template, not shipped)
-- purpose: measurement
-- bounds: sales 0 20000
SELECT brand, category, channel, COUNT(DISTINCT pid) AS buyers, SUM(amount_cents) AS sales
FROM transactions
GROUP BY brand, category, channel
