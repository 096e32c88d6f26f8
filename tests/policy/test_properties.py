"""Random templates from a small grammar never crash the validator; accepted ones run on DuckDB."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleanroom.errors import TemplateRejected
from cleanroom.policy import compile_template
from tests.policy.collab import DATASETS, POLICY, connect

# Well-typed expressions only: the validator checks policy, DuckDB checks types.
NUMBERS = st.sampled_from(["amount_cents", "units", "1", "NULL", "t.amount_cents", "pid", "nope"])
STRINGS = st.sampled_from(["brand", "channel", "'x'", "postal_code", "e.campaign_id", "e.pid"])


@st.composite
def numbers(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 2 or draw(st.booleans()):
        return draw(NUMBERS)
    a, b = draw(numbers(depth + 1)), draw(numbers(depth + 1))
    kind = draw(st.sampled_from(["op", "least", "coalesce", "abs", "hash", "paren"]))
    if kind == "op":
        return f"{a} {draw(st.sampled_from(['+', '-', '*', '/']))} {b}"
    if kind in ("least", "coalesce"):
        return f"{kind.upper()}({a}, {b})"
    return f"({a})" if kind == "paren" else f"{kind}({a})"


@st.composite
def conditions(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return (
            f"{draw(numbers())} {draw(st.sampled_from(['=', '<', '>=', '<>']))} {draw(numbers())}"
        )
    return f"LOWER({draw(STRINGS)}) = {draw(STRINGS)}"


@st.composite
def expressions(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["number", "string", "case"]))
    if kind == "number":
        return draw(numbers())
    if kind == "string":
        return draw(STRINGS)
    return f"CASE WHEN {draw(conditions())} THEN 'hi' ELSE 'lo' END"


AGGREGATES = st.sampled_from(
    [
        "COUNT(DISTINCT pid)",
        "COUNT(*)",
        "SUM(amount_cents)",
        "AVG(amount_cents)",
        "MAX(units)",
        "SUM(units * 2)",
        "COUNT(DISTINCT brand)",
    ]
)
FROMS = st.sampled_from(
    [
        "transactions",
        "transactions t",
        "exposures e JOIN transactions t ON e.pid = t.pid",
        "exposures e LEFT JOIN transactions t ON e.campaign_id = t.brand",
        "(SELECT pid, brand, channel, amount_cents, units, txn_ts FROM transactions) x",
        "(SELECT pid, SUM(amount_cents) AS amount_cents FROM transactions GROUP BY pid) x",
    ]
)


@st.composite
def templates(draw: st.DrawFn) -> str:
    key = draw(expressions())
    agg = draw(AGGREGATES)
    source = draw(FROMS)
    where = f" WHERE {draw(conditions())}" if draw(st.booleans()) else ""
    grouped = draw(st.booleans())
    if grouped:
        return f"SELECT {key} AS k, {agg} AS m FROM {source}{where} GROUP BY 1"
    return f"SELECT {agg} AS m FROM {source}{where}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(templates())
def test_random_templates_never_crash(sql: str) -> None:
    try:
        compiled = compile_template(sql, [], {}, "measurement", POLICY, DATASETS)
    except TemplateRejected as rejected:
        violations = rejected.violations
        assert violations
        return
    connect({}).execute(compiled.duckdb_sql).fetchall()


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text: str) -> None:
    with contextlib.suppress(TemplateRejected):
        compile_template(text, [], {}, "measurement", POLICY, DATASETS)
