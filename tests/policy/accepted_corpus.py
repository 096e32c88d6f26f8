# ruff: noqa: E501  (templates are data; one per line reads best)
"""Legitimate retail-media templates that must be accepted (and run on DuckDB)."""

from __future__ import annotations

ACCEPTED: list[str] = [
    # a per-person SELECT DISTINCT (the projection carries pid: a dedup within one person)
    "SELECT campaign_id, COUNT(*) AS person_campaigns FROM "
    "(SELECT DISTINCT pid, campaign_id FROM exposures) x GROUP BY campaign_id",
    # casts to TIMESTAMP and TIMESTAMP literals (sqlglot reads TIMESTAMP as TIMESTAMPNTZ)
    "SELECT COUNT(DISTINCT pid) AS people FROM transactions "
    "WHERE CAST(txn_ts AS TIMESTAMP) >= TIMESTAMP '2024-01-01 00:00:00' "
    "AND TRY_CAST(brand AS TIMESTAMP) IS NULL",
    # reach per campaign, public key domain from the list parameter
    "SELECT campaign_id, COUNT(DISTINCT pid) AS reach FROM exposures "
    "WHERE campaign_id IN :campaign_ids GROUP BY campaign_id",
    # last touch attribution via a window partitioned by pid
    """WITH touches AS (
      SELECT t.pid, e.campaign_id, t.amount_cents,
             ROW_NUMBER() OVER (PARTITION BY t.pid, t.txn_ts ORDER BY e.exposure_ts DESC) AS rn
      FROM transactions t JOIN exposures e ON e.pid = t.pid AND e.exposure_ts <= t.txn_ts)
    SELECT campaign_id, COUNT(DISTINCT pid) AS buyers, SUM(amount_cents) AS sales
    FROM touches WHERE rn = 1 GROUP BY campaign_id""",
    # last touch with QUALIFY
    """WITH lt AS (
      SELECT t.pid, e.campaign_id, t.amount_cents FROM transactions t
      JOIN exposures e ON e.pid = t.pid AND e.exposure_ts <= t.txn_ts
      QUALIFY ROW_NUMBER() OVER (PARTITION BY t.pid, t.txn_ts ORDER BY e.exposure_ts DESC) = 1)
    SELECT campaign_id, SUM(amount_cents) AS sales FROM lt GROUP BY campaign_id""",
    # per-person rollup and frequency buckets
    """WITH per_person AS (SELECT pid, COUNT(*) AS n_txn, SUM(amount_cents) AS spend
                          FROM transactions GROUP BY pid)
    SELECT CASE WHEN n_txn >= 5 THEN '5+' WHEN n_txn >= 2 THEN '2-4' ELSE '1' END AS freq,
           COUNT(DISTINCT pid) AS people, SUM(spend) AS sales, AVG(spend) AS avg_spend
    FROM per_person GROUP BY 1""",
    # exposure frequency as a group key
    """WITH f AS (SELECT pid, COUNT(*) AS exposures_seen FROM exposures GROUP BY pid)
    SELECT LEAST(exposures_seen, 5) AS frequency, COUNT(DISTINCT pid) AS people FROM f GROUP BY 1""",
    # conversion rate with LEFT JOIN on pid
    """SELECT e.campaign_id, COUNT(DISTINCT e.pid) AS exposed, COUNT(DISTINCT t.pid) AS buyers,
           COUNT(DISTINCT t.pid) / COUNT(DISTINCT e.pid) AS conv_rate
    FROM exposures e LEFT JOIN transactions t
      ON t.pid = e.pid AND t.txn_ts BETWEEN e.exposure_ts AND e.exposure_ts + INTERVAL 14 DAY
    GROUP BY e.campaign_id""",
    # join to a reference dataset
    "SELECT c.parent_company, SUM(t.amount_cents) AS sales FROM transactions t "
    "JOIN catalog c ON c.brand = t.brand GROUP BY c.parent_company",
    # DATE_TRUNC buckets, GROUP BY ALL, ORDER BY and LIMIT on noisy output
    "SELECT DATE_TRUNC('week', txn_ts) AS week, channel, SUM(amount_cents) AS sales, "
    "COUNT(*) AS txns FROM transactions GROUP BY ALL ORDER BY week LIMIT 10",
    # EXISTS on pid: audience overlap with an advertiser CRM list
    "SELECT c.region, COUNT(DISTINCT c.pid) AS shoppers FROM customers c "
    "WHERE EXISTS (SELECT 1 FROM crm WHERE crm.pid = c.pid) GROUP BY c.region",
    # NOT EXISTS on pid
    "SELECT c.loyalty_tier, COUNT(DISTINCT c.pid) AS n FROM customers c WHERE NOT EXISTS "
    "(SELECT 1 FROM exposures e WHERE e.pid = c.pid AND e.campaign_id IN :campaign_ids) "
    "GROUP BY c.loyalty_tier",
    # holdout lift cells with USING (pid)
    "SELECT h.cell, COUNT(DISTINCT h.pid) AS people, COUNT(DISTINCT t.pid) AS buyers, "
    "SUM(t.amount_cents) AS sales FROM holdout h LEFT JOIN transactions t USING (pid) "
    "WHERE h.campaign_id IN :campaign_ids GROUP BY h.cell",
    # a chain of USING joins: the first USING merged pid, the next one binds to it
    "SELECT COUNT(DISTINCT e.pid) AS n FROM exposures e JOIN transactions t USING (pid) "
    "JOIN crm c USING (pid)",
    # ROAS: post-noise arithmetic with a reference column as group key
    "SELECT s.campaign_id, s.spend_cents, SUM(t.amount_cents) / s.spend_cents AS roas "
    "FROM exposures e JOIN transactions t ON t.pid = e.pid "
    "JOIN campaign_spend s ON s.campaign_id = e.campaign_id GROUP BY s.campaign_id, s.spend_cents",
    # conditional person counts
    "SELECT COUNT(DISTINCT CASE WHEN t.channel = 'online' THEN t.pid END) AS online_buyers, "
    "COUNT(DISTINCT t.pid) FILTER (WHERE t.amount_cents > 10000) AS big_buyers FROM transactions t",
    # HAVING on noisy values
    "SELECT e.campaign_id, COUNT(DISTINCT e.pid) AS exposed FROM exposures e GROUP BY 1 "
    "HAVING COUNT(DISTINCT e.pid) > 100",
    # interval analysis over derived expressions
    "SELECT placement, SUM(LEAST(amount_cents, 10000) * 2) AS s FROM exposures e "
    "JOIN transactions t ON e.pid = t.pid GROUP BY placement",
    # first exposure per person, conversion window as a boolean key
    """WITH firsts AS (SELECT pid, MIN(exposure_ts) AS first_exposure FROM exposures
                      WHERE campaign_id IN :campaign_ids GROUP BY pid)
    SELECT DATE_DIFF('day', f.first_exposure, t.txn_ts) <= :window_days AS in_window,
           COUNT(DISTINCT f.pid) AS people
    FROM firsts f JOIN transactions t ON t.pid = f.pid GROUP BY 1""",
    # audience sizing by segment overlap
    "SELECT crm.segment, c.loyalty_tier, COUNT(DISTINCT crm.pid) AS overlap FROM crm "
    "JOIN customers c ON c.pid = crm.pid GROUP BY 1, 2",
    # spend buckets with CASE over a metric
    "SELECT CASE WHEN amount_cents < 1000 THEN 'small' WHEN amount_cents < 10000 THEN 'medium' "
    "ELSE 'large' END AS basket, COUNT(*) AS txns FROM transactions GROUP BY 1",
    # units sold per brand with a month bucket
    "SELECT brand, DATE_TRUNC('month', txn_ts) AS month, SUM(units) AS units FROM transactions "
    "GROUP BY brand, month",
    # average basket per channel
    "SELECT channel, AVG(amount_cents) AS avg_basket FROM transactions GROUP BY channel",
    # sales after exposure (ASOF on DuckDB), per placement
    "SELECT e.placement, SUM(t.amount_cents) AS sales FROM exposures e "
    "ASOF LEFT JOIN transactions t ON e.pid = t.pid AND t.txn_ts >= e.exposure_ts GROUP BY 1",
    # person-level spend capped with GREATEST/LEAST and a declared header bound
    """WITH p AS (SELECT pid, SUM(amount_cents) AS spend FROM transactions GROUP BY pid)
    SELECT SUM(GREATEST(spend - 1000, 0)) AS excess FROM p""",
    # lag within a person: repeat purchase gap buckets
    """WITH g AS (SELECT pid, DATE_DIFF('day', LAG(txn_ts) OVER (PARTITION BY pid ORDER BY txn_ts),
                                       txn_ts) AS gap FROM transactions)
    SELECT CASE WHEN gap IS NULL THEN 'first' WHEN gap <= 7 THEN 'week' ELSE 'later' END AS g,
           COUNT(*) AS purchases FROM g GROUP BY 1""",
    # new-to-brand buyers via a per-person rollup and EXISTS
    """WITH buyers AS (SELECT pid, MIN(txn_ts) AS first_buy FROM transactions
                      WHERE brand = 'acme' GROUP BY pid)
    SELECT COUNT(DISTINCT b.pid) AS buyers FROM buyers b
    WHERE EXISTS (SELECT 1 FROM exposures e WHERE e.pid = b.pid AND e.exposure_ts < b.first_buy)""",
    # category mix by region with reference catalog and customers
    "SELECT c.region, k.category, SUM(t.amount_cents) AS sales FROM transactions t "
    "JOIN customers c ON c.pid = t.pid JOIN catalog k ON k.brand = t.brand GROUP BY 1, 2",
    # holdout lift with the release computing a ratio after noise
    "SELECT h.cell, SUM(t.amount_cents) / COUNT(DISTINCT h.pid) AS sales_per_person "
    "FROM holdout h LEFT JOIN transactions t ON t.pid = h.pid GROUP BY h.cell ORDER BY 2 DESC",
    # lower-cased dimension and LIKE filter
    "SELECT LOWER(brand) AS b, COUNT(DISTINCT pid) AS n FROM transactions "
    "WHERE brand LIKE 'ac%' GROUP BY 1",
    # year extraction and a date parameter
    "SELECT EXTRACT(year FROM txn_ts) AS y, COUNT(*) AS n FROM transactions "
    "WHERE txn_ts >= :since GROUP BY 1",
    # trailing semicolon and comments
    "-- reach\nSELECT COUNT(DISTINCT pid) AS reach /* all */ FROM exposures;",
]
