"""The group cap (``cr_capped``) keeps, per person, the ``max_groups_per_user`` groups with the
smallest ``(cr_rand, group key)``: the same rows as ranking by ``cr_rand`` alone whenever the
keyed hashes differ, and one fixed choice when two of a person's groups collide.

The compiled query is run on DuckDB over people with 1 to 20 groups each; the kept
``(person, group)`` rows are read from the ``cr_capped`` stage itself and compared with the
window ranked by ``cr_rand`` alone and with the ranking recomputed in Python. Collisions are
forced by reducing the hash modulo 3 in the compiled tree.
"""

from __future__ import annotations

import random
from collections import defaultdict

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from cleanroom.policy import compile_template
from tests.policy.collab import DATASETS, POLICY, connect, pid

MAX_GROUPS = 4  # POLICY's max_groups_per_user
SQL = "SELECT campaign_id, COUNT(DISTINCT pid) AS reach, COUNT(*) AS n FROM exposures GROUP BY 1"
Kept = set[tuple[bytes, str]]


def _world(seed: int, people: int = 300) -> duckdb.DuckDBPyConnection:
    """``people`` people with 1..20 campaigns each (one to three rows per campaign)."""
    rng = random.Random(seed)
    con = connect({})
    rows = [
        (pid(p), campaign, "2024-02-01", "onsite")
        for p in range(people)
        for campaign in rng.sample([f"c{i}" for i in range(25)], rng.randint(1, 20))
        for _ in range(rng.randint(1, 3))
    ]
    con.executemany(
        "INSERT INTO cr_ds_exposures (pid, campaign_id, exposure_ts, placement) "
        "VALUES (?, ?, ?, ?)",
        rows,
    )
    return con


def _stage(seed: int, ties: bool, order_by_key: bool = True) -> exp.Select:
    """The compiled query, ending at ``cr_capped`` (with its person) instead of the sums.

    ``ties``: the keyed hash is taken modulo 3 (many collisions per person). ``order_by_key``
    False drops the key columns from the rank's ORDER BY (the window ranked by ``cr_rand`` only).
    """
    compiled = compile_template(SQL, [], {}, "measurement", POLICY, DATASETS, seed=seed)
    tree = sqlglot.parse_one(compiled.duckdb_sql, read="duckdb")
    assert isinstance(tree, exp.Select)
    capped = next(c.this for c in tree.args["with_"].expressions if c.alias == "cr_capped")
    window = capped.find(exp.Window)
    order = window.args["order"].expressions
    assert [o.this.name for o in order] == ["cr_rand", "cr_k0"]
    if not order_by_key:
        window.args["order"].set("expressions", order[:1])
    if ties:
        rand = capped.find(exp.Anonymous)
        assert isinstance(rand, exp.Anonymous)
        assert rand.name.upper() == "HASH"
        rand.replace(exp.Mod(this=rand.copy(), expression=exp.Literal.number(3)))
    capped.append("expressions", exp.column("cr_pid"))
    stage = exp.select("cr_pid", "cr_k0", "cr_group_rank").from_("cr_capped")
    stage.set("with_", tree.args["with_"])
    return stage


def _kept(con: duckdb.DuckDBPyConnection, stage: exp.Select) -> Kept:
    query = stage.sql(dialect="duckdb")
    return {
        (p, k)
        for p, k, rank in con.execute(query).fetchall()
        if rank <= MAX_GROUPS  # the final aggregation's filter
    }


def _expected(con: duckdb.DuckDBPyConnection, seed: int, ties: bool) -> Kept:
    """Per person, the MAX_GROUPS groups with the smallest (hash, campaign), in Python."""
    rand = f"HASH({seed}, pid, campaign_id)" + (" % 3" if ties else "")
    by_person: dict[bytes, list[tuple[int, str]]] = defaultdict(list)
    for p, k, r in con.execute(
        f"SELECT pid, campaign_id, {rand} FROM cr_ds_exposures GROUP BY pid, campaign_id"
    ).fetchall():
        by_person[p].append((r, k))
    return {(p, k) for p, groups in by_person.items() for _, k in sorted(groups)[:MAX_GROUPS]}


@pytest.mark.parametrize("seed", [0, 7, 12345])
def test_cap_keeps_the_rows_the_window_on_the_hash_keeps(seed: int) -> None:
    con = _world(seed)
    kept = _kept(con, _stage(seed, ties=False))
    assert kept == _kept(con, _stage(seed, ties=False, order_by_key=False))
    assert kept == _expected(con, seed, ties=False)
    per_person: dict[bytes, int] = defaultdict(int)
    for p, _ in kept:
        per_person[p] += 1
    assert max(per_person.values()) == MAX_GROUPS  # the cap binds for some people
    assert min(per_person.values()) == 1  # and people with one group keep it


@pytest.mark.parametrize("seed", [0, 7])
def test_hash_collisions_are_broken_by_the_group_key(seed: int) -> None:
    con = _world(seed)
    stage = _stage(seed, ties=True)
    expected = _expected(con, seed, ties=True)
    assert _kept(con, stage) == expected
    for threads in (1, 4):  # the same rows whatever the engine's parallelism
        con.execute(f"SET threads = {threads}")
        assert _kept(con, stage) == expected
