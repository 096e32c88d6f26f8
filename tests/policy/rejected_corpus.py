# ruff: noqa: E501  (templates are data; one per line reads best)
"""Templates that must be rejected, each with the violation code it must produce."""

from __future__ import annotations

R = "SELECT COUNT(DISTINCT pid) AS n FROM"

CORPUS: list[tuple[str, str]] = [
    # --- statements and parsing
    ("SELECT", "parse_error"),
    ("SELECT campaign_id FROM exposures WHERE (", "parse_error"),
    (f"{R} exposures; SELECT 1", "multiple_statements"),
    (f"{R} exposures; DROP TABLE cr_suppressed", "multiple_statements"),
    (f"{R} exposures /* ; */; ATTACH 'evil.db'", "multiple_statements"),
    ("COPY cr_ds_transactions TO '/tmp/out.csv'", "not_select"),
    ("ATTACH '/tmp/evil.duckdb' AS evil", "not_select"),
    ("PRAGMA database_list", "not_select"),
    ("SET enable_external_access = true", "not_select"),
    ("INSTALL httpfs", "not_select"),
    ("LOAD httpfs", "not_select"),
    ("CREATE TABLE x AS SELECT 1", "not_select"),
    ("DELETE FROM cr_suppressed", "not_select"),
    ("INSERT INTO cr_suppressed VALUES (1)", "not_select"),
    ("UPDATE cr_ds_transactions SET amount_cents = 0", "not_select"),
    ("EXPLAIN SELECT 1", "not_select"),
    ("DESCRIBE cr_ds_transactions", "not_select"),
    ("CALL pragma_version()", "not_select"),
    ("-- comment\nDETACH x", "not_select"),
    ("FROM exposures SELECT COUNT(DISTINCT pid)", "from_first"),
    (f"{R} (FROM exposures SELECT pid) x", "from_first"),
    # --- set operations and selection
    (f"{R} exposures UNION SELECT COUNT(DISTINCT pid) FROM crm", "set_operation"),
    (f"{R} (SELECT pid FROM exposures UNION ALL SELECT pid FROM crm) u", "set_operation"),
    (f"{R} exposures EXCEPT SELECT 1", "set_operation"),
    (
        "SELECT DISTINCT campaign_id, COUNT(DISTINCT pid) FROM exposures GROUP BY 1",
        "select_distinct_release",
    ),
    (
        f"{R} (SELECT pid FROM exposures ORDER BY exposure_ts LIMIT 10) x",
        "row_selection_across_people",
    ),
    (f"{R} (SELECT DISTINCT campaign_id FROM exposures) x", "row_selection_across_people"),
    (f"{R} exposures TABLESAMPLE 10%", "row_selection_across_people"),
    ("SELECT campaign_id FROM exposures", "ungrouped_column"),
    # --- star
    ("SELECT *, COUNT(DISTINCT pid) FROM exposures GROUP BY ALL", "star"),
    (f"{R} (SELECT * FROM transactions) t", "star"),
    (f"{R} (SELECT t.* FROM transactions t) t", "star"),
    (f"{R} (SELECT COLUMNS('amount.*'), pid FROM transactions) t", "forbidden_function"),
    # --- tables, files and table functions
    ("SELECT COUNT(*) FROM read_csv('/etc/passwd')", "table_function"),
    ("SELECT COUNT(*) FROM read_parquet('s3://bucket/x.parquet')", "table_function"),
    ("SELECT COUNT(*) FROM read_json('x.json')", "table_function"),
    ("SELECT COUNT(*) FROM read_csv_auto('x.csv')", "table_function"),
    ("SELECT COUNT(*) FROM glob('/home/*')", "table_function"),
    ("SELECT COUNT(*) FROM query('SELECT * FROM cr_ds_transactions')", "table_function"),
    ("SELECT COUNT(*) FROM query_table('cr_ds_transactions')", "table_function"),
    ("SELECT COUNT(*) FROM '/etc/passwd'", "file_path"),
    ("SELECT COUNT(*) FROM 'x.csv'", "file_path"),
    ('SELECT COUNT(*) FROM "data/transactions.parquet"', "file_path"),
    ("SELECT COUNT(*) FROM parquet.`/data/x`", "parse_error"),
    (f"{R} main.exposures", "qualified_table"),
    (f"{R} memory.main.transactions", "qualified_table"),
    (f"{R} cr_ds_transactions", "reserved_name"),
    (f"{R} cr_suppressed", "reserved_name"),
    (f"{R} duckdb_settings()", "table_function"),
    (f"{R} information_schema.tables", "qualified_table"),
    (f"{R} secrets", "unknown_table"),
    (f"{R} exроsures", "unknown_table"),  # Cyrillic look-alike letters
    (f"{R} (VALUES (1)) v(pid)", "table_function"),
    (f"{R} exposures, LATERAL (SELECT 1) x", "forbidden_join"),
    (f"{R} UNNEST([1, 2])", "table_function"),
    # --- escape-hatch functions
    (
        "SELECT getenv('HOME') AS h, COUNT(DISTINCT pid) FROM exposures GROUP BY 1",
        "forbidden_function",
    ),
    (
        "SELECT current_setting('threads') AS s, COUNT(DISTINCT pid) FROM exposures GROUP BY 1",
        "forbidden_function",
    ),
    (
        f"{R} exposures WHERE reflect('java.lang.Runtime', 'getRuntime') IS NULL",
        "forbidden_function",
    ),
    (f"{R} exposures WHERE java_method('java.lang.System', 'exit', 0) = 1", "forbidden_function"),
    (
        "SELECT input_file_name() AS f, COUNT(DISTINCT pid) FROM exposures GROUP BY 1",
        "forbidden_function",
    ),
    (f"{R} exposures WHERE length(campaign_id) > 3", "forbidden_function"),
    (f"{R} exposures WHERE regexp_matches(campaign_id, 'a')", "forbidden_function"),
    (f"{R} exposures WHERE random() < 0.5", "forbidden_function"),
    (f"{R} exposures WHERE campaign_id = version()", "forbidden_function"),
    (f"{R} exposures WHERE list_transform([1], x -> x + 1) IS NULL", "forbidden_function"),
    (f"{R} transactions WHERE CAST(amount_cents AS BLOB) IS NULL", "forbidden_function"),
    # --- pid misuse
    ("SELECT pid, COUNT(*) FROM exposures GROUP BY pid", "pid_misuse"),
    (
        "SELECT md5(CAST(pid AS VARCHAR)) AS h, COUNT(*) FROM exposures GROUP BY 1",
        "forbidden_function",
    ),
    (
        "SELECT hash(pid) % 10 AS b, COUNT(DISTINCT pid) FROM exposures GROUP BY 1",
        "forbidden_function",
    ),
    ("SELECT CAST(pid AS VARCHAR) AS p, COUNT(*) AS n FROM exposures GROUP BY 1", "pid_function"),
    (f"{R} exposures WHERE pid > 'a'", "pid_misuse"),
    (f"{R} exposures WHERE pid = 'x'", "pid_misuse"),
    (f"{R} exposures WHERE substring(pid, 1, 1) = 'a'", "forbidden_function"),
    ("SELECT COALESCE(pid, pid) AS p, COUNT(*) AS n FROM exposures GROUP BY 1", "pid_function"),
    (
        f"{R} (SELECT pid, ROW_NUMBER() OVER (PARTITION BY pid ORDER BY pid) AS r FROM exposures) x",
        "pid_function",
    ),
    ('SELECT "PID" AS p, COUNT(*) FROM exposures GROUP BY 1', "pid_misuse"),
    ("SELECT COUNT(pid) AS n FROM exposures", "disallowed_aggregate"),
    (f"{R} exposures WHERE pid IN (SELECT pid FROM crm)", "uncorrelated_subquery"),
    ("SELECT email_sha256 AS e, COUNT(*) FROM exposures GROUP BY 1", "unknown_column"),
    # --- joins
    (f"{R} exposures e JOIN transactions t ON e.campaign_id = t.brand", "join_without_pid"),
    (f"{R} exposures e, transactions t WHERE e.pid = t.pid", "cross_join"),
    (f"{R} exposures e CROSS JOIN transactions t", "cross_join"),
    (f"{R} exposures e NATURAL JOIN transactions t", "forbidden_join"),
    (f"{R} exposures e POSITIONAL JOIN transactions t", "forbidden_join"),
    (f"{R} exposures e RIGHT JOIN transactions t ON e.pid = t.pid", "forbidden_join"),
    (f"{R} exposures e FULL OUTER JOIN transactions t ON e.pid = t.pid", "forbidden_join"),
    (f"{R} exposures e SEMI JOIN transactions t ON e.pid = t.pid", "forbidden_join"),
    (f"{R} exposures e ANTI JOIN transactions t ON e.pid = t.pid", "forbidden_join"),
    (f"{R} exposures e ASOF JOIN transactions t ON t.txn_ts >= e.exposure_ts", "join_without_pid"),
    (f"{R} exposures e JOIN transactions t ON e.pid = t.pid OR TRUE", "join_without_pid"),
    (f"{R} exposures e JOIN transactions t USING (channel)", "join_without_pid"),
    # --- windows and subqueries
    (
        f"{R} (SELECT pid, ROW_NUMBER() OVER (ORDER BY exposure_ts) AS r FROM exposures) x",
        "window_not_partitioned_by_pid",
    ),
    (
        f"{R} (SELECT pid, RANK() OVER (PARTITION BY campaign_id ORDER BY exposure_ts) AS r FROM exposures) x",
        "window_not_partitioned_by_pid",
    ),
    (
        f"{R} exposures e WHERE EXISTS (SELECT 1 FROM transactions t WHERE t.amount_cents > 100)",
        "uncorrelated_subquery",
    ),
    (f"{R} exposures e WHERE (SELECT COUNT(*) FROM transactions) > 5", "uncorrelated_subquery"),
    (
        f"{R} exposures e WHERE e.campaign_id IN (SELECT brand FROM transactions)",
        "uncorrelated_subquery",
    ),
    (
        f"{R} exposures e WHERE EXISTS (SELECT 1 FROM transactions t WHERE t.brand = e.campaign_id)",
        "uncorrelated_subquery",
    ),
    (
        f"{R} (SELECT campaign_id, COUNT(*) AS c FROM exposures GROUP BY campaign_id) x",
        "aggregate_across_people",
    ),
    # --- release rules
    (
        "SELECT amount_cents, COUNT(DISTINCT pid) FROM transactions GROUP BY amount_cents",
        "metric_as_group_key",
    ),
    (
        "SELECT amount_cents / 100 AS d, COUNT(DISTINCT pid) FROM transactions GROUP BY 1",
        "metric_as_group_key",
    ),
    (
        "WITH p AS (SELECT pid, SUM(amount_cents) AS s FROM transactions GROUP BY pid) SELECT s, COUNT(*) FROM p GROUP BY s",
        "metric_as_group_key",
    ),
    ("SELECT MAX(amount_cents) AS m FROM transactions", "disallowed_aggregate"),
    ("SELECT MIN(amount_cents) AS m FROM transactions", "disallowed_aggregate"),
    ("SELECT STDDEV(amount_cents) AS m FROM transactions", "disallowed_aggregate"),
    ("SELECT MEDIAN(amount_cents) AS m FROM transactions", "disallowed_aggregate"),
    ("SELECT QUANTILE_CONT(amount_cents, 0.5) AS m FROM transactions", "disallowed_aggregate"),
    ("SELECT COUNT(DISTINCT brand) AS m FROM transactions", "disallowed_aggregate"),
    ("SELECT SUM(DISTINCT amount_cents) AS m FROM transactions", "disallowed_aggregate"),
    ("SELECT AVG(units) AS m FROM transactions", "disallowed_aggregate"),
    (
        "WITH x AS (SELECT pid, DATE_DIFF('day', MIN(txn_ts), MAX(txn_ts)) AS d FROM transactions GROUP BY pid) SELECT SUM(d) FROM x",
        "unbounded_metric",
    ),
    (
        "SELECT s.campaign_id, SUM(s.spend_cents) AS sp FROM exposures e JOIN campaign_spend s ON s.campaign_id = e.campaign_id GROUP BY 1",
        "unbounded_metric",
    ),
    (
        "SELECT campaign_id, channel, COUNT(DISTINCT pid) FROM exposures GROUP BY campaign_id",
        "ungrouped_column",
    ),
    ("SELECT COUNT(DISTINCT pid) AS n FROM campaign_spend", "no_personal_dataset"),
    ("SELECT COUNT(*) AS n FROM (SELECT campaign_id FROM exposures) x", "pid_not_carried"),
    # --- columns
    ("SELECT postal_code, COUNT(DISTINCT pid) FROM transactions GROUP BY 1", "blocked_column"),
    ("SELECT POSTAL_CODE, COUNT(DISTINCT pid) FROM transactions GROUP BY 1", "blocked_column"),
    ('SELECT "Postal_Code", COUNT(DISTINCT pid) FROM transactions GROUP BY 1', "blocked_column"),
    (f"{R} transactions WHERE postal_code LIKE '9%'", "blocked_column"),
    (f"{R} transactions WHERE consent_measurement", "consent_column"),
    (f"{R} transactions WHERE NOT consent_measurement", "consent_column"),
    (
        "WITH x AS (SELECT pid, postal_code AS z FROM transactions) SELECT z, COUNT(*) FROM x GROUP BY z",
        "blocked_column",
    ),
    (f"{R} exposures WHERE secret_column = 1", "unknown_column"),
    (
        f"{R} exposures e JOIN transactions t ON e.pid = t.pid WHERE channel = 'x'",
        "ambiguous_column",
    ),
    (  # two earlier sources carry pid and no USING merged them: the engine cannot bind it
        "SELECT COUNT(DISTINCT e.pid) AS n FROM exposures e JOIN transactions t ON e.pid = t.pid "
        "JOIN crm c USING (pid)",
        "ambiguous_column",
    ),
    # --- parameters and limits
    (f"{R} exposures WHERE campaign_id = :nope", "unknown_parameter"),
    (f"{R} exposures WHERE campaign_id = ?", "unbound_parameter"),
    (
        "SELECT COUNT(DISTINCT pid) AS n FROM exposures WHERE " + "(" * 40 + "TRUE" + ")" * 40,
        "nesting_too_deep",
    ),
    (
        "SELECT COUNT(DISTINCT pid) AS n FROM exposures WHERE campaign_id = 'a'"
        + " OR campaign_id = 'a'" * 5000,
        "too_large",
    ),
    ("SELECT COUNT(DISTINCT pid) AS n FROM exposures -- " + "x" * 100_001, "too_large"),
    # 65 chained CTEs (an engine fails on long chains after the run's charge: refused at once)
    (
        "WITH c0 AS (SELECT pid FROM exposures), "
        + ", ".join(f"c{i} AS (SELECT pid FROM c{i - 1})" for i in range(1, 65))
        + " SELECT COUNT(DISTINCT pid) AS n FROM c64",
        "too_large",
    ),
    # --- CTE tricks
    (
        "WITH cr_partial AS (SELECT pid FROM exposures) SELECT COUNT(DISTINCT pid) AS n FROM cr_partial",
        "reserved_name",
    ),
    (f"{R} exposures AS cr_capped", "reserved_name"),
    (
        "WITH exposures AS (SELECT pid, postal_code FROM transactions) SELECT COUNT(*) FROM exposures",
        "blocked_column",
    ),
    (
        "WITH RECURSIVE r AS (SELECT pid FROM exposures) SELECT COUNT(DISTINCT pid) FROM r",
        "forbidden_syntax",
    ),
    (
        "WITH a AS (SELECT pid, campaign_id FROM exposures), b AS (SELECT campaign_id, COUNT(pid) AS n FROM a GROUP BY campaign_id) SELECT COUNT(*) FROM b",
        "aggregate_across_people",
    ),
    (
        "SELECT x.c, COUNT(DISTINCT x.p) FROM (SELECT pid AS p, md5(pid) AS c FROM exposures) x GROUP BY 1",
        "forbidden_function",
    ),
]

# Spark SQL's own escape hatches (issue 7): path tables, Java reflection, file metadata,
# IDENTIFIER() name indirection, session settings and data-source views. Each must be refused
# whichever engines are asked for (``test_spark_escapes_are_rejected_for_both_engines``).
SPARK_ESCAPES: list[tuple[str, str]] = [
    ("SELECT COUNT(*) FROM parquet.`/data/x`", "parse_error"),
    ("SELECT COUNT(*) FROM csv.`/etc/passwd`", "parse_error"),
    ("SELECT COUNT(*) FROM json.`/data/x.json`", "parse_error"),
    ("SELECT COUNT(*) FROM orc.`hdfs:///warehouse/x`", "parse_error"),
    ("SELECT COUNT(*) FROM text.`/etc/hosts`", "parse_error"),
    ("SELECT COUNT(*) FROM `parquet`.`s3a://bucket/other/x.parquet`", "parse_error"),
    (f"{R} parquet.`file:///data/datasets/transactions.parquet`", "parse_error"),
    (f"{R} delta.`/data/x`", "parse_error"),
    (f"{R} exposures e JOIN csv.`/etc/passwd` p ON e.pid = p.pid", "parse_error"),
    (
        f"{R} exposures WHERE EXISTS (SELECT 1 FROM parquet.`/data/x` AS x WHERE x.pid = exposures.pid)",
        "parse_error",
    ),
    (f'{R} parquet."/data/x"', "qualified_table"),
    (f"{R} read_files('/data/datasets')", "table_function"),
    (f"{R} IDENTIFIER('cr_ds_transactions')", "table_function"),
    (f"{R} IDENTIFIER('transactions')", "table_function"),
    (
        "SELECT IDENTIFIER('campaign_id') AS c, COUNT(DISTINCT pid) AS n FROM exposures GROUP BY 1",
        "forbidden_function",
    ),
    (
        f"{R} exposures WHERE reflect('java.lang.Thread', 'sleep', 100000) IS NULL",
        "forbidden_function",
    ),
    (
        f"{R} exposures WHERE java_method('java.lang.Runtime', 'getRuntime') IS NULL",
        "forbidden_function",
    ),
    (
        f"{R} exposures WHERE try_reflect('java.lang.System', 'getenv', 'HOME') IS NULL",
        "forbidden_function",
    ),
    (
        "SELECT input_file_name() AS f, COUNT(DISTINCT pid) AS n FROM transactions GROUP BY 1",
        "forbidden_function",
    ),
    (f"{R} exposures WHERE input_file_block_start() > 0", "forbidden_function"),
    (
        "SELECT current_user() AS u, COUNT(DISTINCT pid) AS n FROM exposures GROUP BY 1",
        "forbidden_function",
    ),
    (f"{R} exposures WHERE spark_partition_id() = 0", "forbidden_function"),
    ("SET spark.sql.runSQLOnFiles=true", "not_select"),
    ("SET spark.sql.ansi.enabled = false", "not_select"),
    ("RESET spark.sql.runSQLOnFiles", "not_select"),
    (f"{R} exposures; SET spark.sql.runSQLOnFiles=true", "multiple_statements"),
    ("CREATE TEMPORARY VIEW v USING parquet OPTIONS (path '/data/x')", "not_select"),
    (
        "CREATE OR REPLACE TEMPORARY VIEW transactions USING csv OPTIONS (path '/etc/passwd')",
        "not_select",
    ),
    ("CREATE TABLE t USING parquet LOCATION '/data'", "not_select"),
    ("INSERT OVERWRITE DIRECTORY '/tmp/out' SELECT * FROM transactions", "not_select"),
    ("ADD JAR /tmp/evil.jar", "not_select"),
    ("LOAD DATA LOCAL INPATH '/etc/passwd' INTO TABLE transactions", "not_select"),
    ("CACHE TABLE c AS SELECT * FROM transactions", "not_select"),
]
CORPUS += [case for case in SPARK_ESCAPES if case not in CORPUS]
