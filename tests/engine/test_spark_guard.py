"""The Spark SQL guard alone (no JVM): what reaches Spark is one plain query."""

from __future__ import annotations

import pytest

from cleanroom.engine.spark_guard import check_spark_select, tokenize
from cleanroom.errors import ExecutionFailed

ACCEPTED = [
    "SELECT a, COUNT(DISTINCT pid) AS n FROM cr_ds_t GROUP BY a",
    "WITH x AS (SELECT pid FROM cr_ds_t) SELECT COUNT(*) FROM x;",
    "SELECT 'reflect(1)' AS s, `user` FROM cr_ds_t -- set spark.x=1",
    "SELECT /* nested /* drop */ comment */ DATE_TRUNC('DAY', ts) FROM cr_ds_t",
    "SELECT 'it''s; fine' AS s, \"also; fine\" AS t",
]

REFUSED = [
    "SET spark.sql.runSQLOnFiles=true",
    "select * from parquet.`/data/other.parquet`",
    "SELECT * FROM `s3a://bucket/x`",
    "SELECT reflect('java.lang.System', 'getenv', 'HOME')",
    "SELECT JAVA_METHOD('java.lang.Runtime', 'getRuntime')",
    "SELECT try_reflect ('a', 'b')",
    "SELECT current_user",
    "SELECT * FROM identifier('cr_ds_t')",
    "SELECT 1; SELECT 2",
    "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
    "FROM cr_ds_t INSERT OVERWRITE DIRECTORY '/tmp/x' SELECT *",
    "CREATE TABLE t USING parquet LOCATION '/etc'",
    "SELECT r'\\', reflect('a', 'b') --'",
    "SELECT 'a\\'', reflect('a', 'b') --'",
    "SELECT 1 /* unterminated",
    "SELECT 'unterminated",
    "EXPLAIN SELECT 1",
    "",
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_plain_queries_pass(sql: str) -> None:
    check_spark_select(sql)


@pytest.mark.parametrize("sql", REFUSED)
def test_escapes_are_refused(sql: str) -> None:
    with pytest.raises(ExecutionFailed) as caught:
        check_spark_select(sql)
    assert caught.value.code == "execution_failed"


def test_raw_strings_end_at_the_first_quote() -> None:
    words = [t.text for t in tokenize("SELECT r'\\', reflect('a')") if t.kind == "word"]
    assert words == ["select", "reflect"]
