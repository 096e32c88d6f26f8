"""The neighbour sensitivity harness: run a compiled template on D and on D' = D plus (or minus)
one person, and check every released measurement against its claimed sensitivity.

User-level differential privacy with add/remove-one-person neighbours promises, for every
measurement ``m`` of the release plan and every pair of neighbouring datasets::

    sum over groups |m(D) - m(D')|          <= m.l1_sensitivity
    sqrt(sum over groups (m(D) - m(D'))**2) <= m.l2_sensitivity

where a group missing from one result counts as zeros. The groups and values are the ones ``dp``
sees: the engine's table goes through :func:`cleanroom.dp.candidates.candidates` (public-key
releases are the cross product of the domains, zero-filled; other releases the groups present,
minus values outside a key's domain). On top of the inequalities the harness checks:

- both runs succeed: a run that fails on one side only is a released bit; a failure on both sides
  is reported too (an accepted template must run);
- an added person who is on the suppression list changes nothing at all;
- the compiled SQL reads personal data only through the rewrite's wrapper (consent, suppression);
- with a seeded compiler (``compile_template(..., seed=...)``) the SQL is deterministic: a repeated
  run of D gives the same result.

Each data version is compiled on its own, as a run would: ``observed_max_rows`` is a fact about
the version a run reads, so D and D' may get different SQL (a row cap left out on one side only).
Each version is typed as ingestion types it: by the spec alone (a metric is BIGINT when its type is
``integer``, DOUBLE when ``number``), so D and D' always share their column types.

Until the compiler takes ``seed``, the row and group caps order by ``RANDOM()``. Rows of people of
D never exceed the row caps (the data strategies make sure), so a row cap never changes their
rows; the group cap could, so a case is skipped when a person other than the neighbour has more
per-person partial groups than ``max_groups_per_user`` in either run (checked on the compiled SQL's
``cr_partial`` stage). With ``seed`` the caps are keyed hashes and nothing is skipped.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from cleanroom.dp.candidates import candidates, json_value
from cleanroom.errors import CleanroomError, TemplateRejected
from cleanroom.names import PID, SUPPRESSION_VIEW, dataset_view
from cleanroom.plan import CompiledQuery, ReleasePlan
from cleanroom.policy import compile_template
from cleanroom.specs import CollaborationPolicy, ColumnSpec, DatasetSpec, ParamSpec

ADVERSARY = 1_000_000  # the person number of the added neighbour (people of D are 1..n)
SEEDED = "seed" in inspect.signature(compile_template).parameters

Row = Mapping[str, Any]
Rows = Mapping[str, Sequence[Row]]  # dataset name -> rows; a personal row has "pid": person number
GroupTuple = tuple[Any, ...]
Exact = dict[GroupTuple, dict[str, float]]


# --- the world: a collaboration's policy and dataset specs ---------------------------------------
@dataclass(frozen=True)
class World:
    """A collaboration the fuzzer runs in, with ordinary values for undeclared dimensions."""

    name: str
    policy: CollaborationPolicy
    datasets: Mapping[str, DatasetSpec]
    pools: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # column -> usual values

    def __repr__(self) -> str:
        return f"World({self.name!r})"

    def personal(self) -> list[DatasetSpec]:
        return [s for s in self.datasets.values() if s.is_personal]

    def reference(self) -> list[DatasetSpec]:
        return [s for s in self.datasets.values() if not s.is_personal]

    def pool(self, spec: DatasetSpec, column: str) -> tuple[Any, ...]:
        col = spec.column(column)
        if col is not None and col.values is not None:
            return tuple(col.values)
        return self.pools.get(column, ("a", "b", "c"))


@dataclass(frozen=True)
class Case:
    """A template with its parameters, as a run compiles it."""

    sql: str
    parameters: tuple[ParamSpec, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    purpose: str = "measurement"
    label: str = ""
    consent: str | None = None  # a consent analysis's dataset (``-- consent:``)


@dataclass(frozen=True)
class Data:
    """One version of the collaboration's data."""

    rows: Rows
    suppressed: frozenset[int] = frozenset()
    pid_type: str = "BLOB"  # or VARCHAR (hex)

    def people(self) -> set[int]:
        return {int(r[PID]) for rs in self.rows.values() for r in rs if PID in r}


@dataclass(frozen=True)
class Neighbour:
    """D' = D plus the rows of person ADVERSARY (``added``), or D minus person ``removed``."""

    added: Rows = field(default_factory=dict)
    removed: int | None = None
    suppress_added: bool = False

    @property
    def person(self) -> int:
        return self.removed if self.removed is not None else ADVERSARY

    def within_caps(self, world: World) -> Neighbour:
        """Without a seeded compiler the row cap keeps RANDOM() rows: a person over the cap
        would make the run irreproducible (a violation seen once, then not). Keep at most the
        cap of rows, distinct rows first, then repeats; rows that are all identical may exceed
        it (any subset of them is the same)."""
        trimmed: dict[str, list[Row]] = {}
        for name, rows in self.added.items():
            cap = int(world.datasets[name].max_rows_per_user or 1000)
            seen: dict[str, Row] = {}
            for r in rows:
                seen.setdefault(repr(sorted(r.items(), key=lambda kv: kv[0])), r)
            if len(rows) <= cap or len(seen) <= 1:
                trimmed[name] = list(rows)
                continue
            first = list(seen.values())[:cap]
            chosen = {id(r) for r in first}
            repeats = [r for r in rows if id(r) not in chosen]
            trimmed[name] = first + repeats[: cap - len(first)]
        return Neighbour(trimmed, self.removed, self.suppress_added)

    def apply(self, data: Data) -> Data:
        if self.removed is not None:
            rows = {n: [r for r in rs if r.get(PID) != self.removed] for n, rs in data.rows.items()}
            return Data(rows, data.suppressed - {self.removed}, data.pid_type)
        rows = {n: list(rs) for n, rs in data.rows.items()}
        for name, extra in self.added.items():
            rows.setdefault(name, []).extend({**r, PID: ADVERSARY} for r in extra)
        suppressed = data.suppressed | ({ADVERSARY} if self.suppress_added else set())
        return Data(rows, suppressed, data.pid_type)

    def __repr__(self) -> str:
        return f"Neighbour({self.describe()!r})"

    def describe(self) -> str:
        if self.removed is not None:
            return f"remove person {self.removed}"
        parts = []
        for name, rows in self.added.items():
            if rows:
                distinct = list(dict.fromkeys(_show(r) for r in rows))
                shown = "; ".join(distinct[:6]) + (" ..." if len(distinct) > 6 else "")
                parts.append(f"{name}: {len(rows)} rows ({len(distinct)} distinct) {shown}")
        suppressed = " [suppressed]" if self.suppress_added else ""
        return f"add person {ADVERSARY}{suppressed}: " + (" | ".join(parts) or "no rows")


def _show(row: Row) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in row.items() if k != PID) + "}"


# --- storage: the engine's views, typed as ingestion types them ----------------------------------
def pid_key(person: int, pid_type: str) -> bytes | str:
    digest = hashlib.sha256(f"person-{person}".encode()).digest()
    return digest if pid_type == "BLOB" else digest.hex()


def metric_type(col: ColumnSpec) -> str:
    """Ingestion stores a metric by its declared type (never by its values)."""
    return "BIGINT" if col.number_type == "integer" else "DOUBLE"


def column_types(spec: DatasetSpec, rows: Sequence[Row], pid_type: str) -> list[tuple[str, str]]:
    cols = [(PID, pid_type)] if spec.is_personal else []
    for c in spec.stored_columns():
        if c.role == "metric":
            cols.append((c.name, metric_type(c)))
        elif c.role in ("dimension", "sensitive"):
            numeric = c.values is not None and all(
                isinstance(v, int) and not isinstance(v, bool) for v in c.values
            )
            cols.append((c.name, "BIGINT" if numeric else "VARCHAR"))
        elif c.role == "timestamp":
            cols.append((c.name, "TIMESTAMP"))
        elif c.role == "consent":
            cols.append((c.name, "BOOLEAN"))
    return cols


_ARROW: dict[str, pa.DataType] = {
    "BLOB": pa.binary(),
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "TIMESTAMP": pa.timestamp("us"),
    "BOOLEAN": pa.bool_(),
}


def _cell(value: Any, sql_type: str, pid_type: str, is_pid: bool) -> Any:
    if value is None:
        return None
    if is_pid:
        return pid_key(int(value), pid_type)
    if sql_type == "DOUBLE":
        return float(value)
    return value


def arrow_table(spec: DatasetSpec, rows: Sequence[Row], pid_type: str) -> pa.Table:
    cols = column_types(spec, rows, pid_type)
    consent = {c.name for c in spec.columns if c.role == "consent"}
    arrays = {}
    for name, sql_type in cols:
        values = []
        for row in rows:
            value = row.get(name, True if name in consent else None)
            values.append(_cell(value, sql_type, pid_type, name == PID))
        arrays[name] = pa.array(values, type=_ARROW[sql_type])
    return pa.table(arrays) if arrays else pa.table({})


_CONNECTION: list[duckdb.DuckDBPyConnection] = []


def connect(world: World, data: Data) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding ``data`` as the engine's views, with the engine's settings
    that matter here. One connection per process: each run re-registers every view (a run reads
    nothing else; CREATE is impossible from a SELECT), which is much cheaper than connecting."""
    if not _CONNECTION:
        con = duckdb.connect(":memory:")
        for statement in (
            "SET threads = 1",
            "SET TimeZone = 'UTC'",
            "SET python_enable_replacements = false",
            "SET autoinstall_known_extensions = false",
            "SET autoload_known_extensions = false",
        ):
            con.execute(statement)
        _CONNECTION.append(con)
    con = _CONNECTION[0]
    for spec in world.datasets.values():
        rows = data.rows.get(spec.name, ())
        con.register(dataset_view(spec.name), arrow_table(spec, rows, data.pid_type))
    keys = [pid_key(p, data.pid_type) for p in sorted(data.suppressed)]
    con.register(SUPPRESSION_VIEW, pa.table({PID: pa.array(keys, type=_ARROW[data.pid_type])}))
    return con


def observed_max_rows(world: World, data: Data) -> dict[str, int]:
    """Most rows one person has in each personal dataset (what ingestion records)."""
    out: dict[str, int] = {}
    for spec in world.personal():
        counts: dict[int, int] = {}
        for row in data.rows.get(spec.name, ()):
            counts[row[PID]] = counts.get(row[PID], 0) + 1
        out[spec.name] = max(counts.values(), default=0)
    return out


# --- compile and run -----------------------------------------------------------------------------
_COMPILED: dict[str, CompiledQuery] = {}


def compile_case(
    world: World, case: Case, observed: Mapping[str, int] | None, seed: int
) -> CompiledQuery:
    """``compile_template`` as a run calls it (DuckDB only); raises TemplateRejected.

    Cached per template, seed and row-cap decision (``observed_max_rows`` only decides, per
    dataset, whether the cap can bind: documented in ``compile_template``); the first observed
    maxima that reach a decision are the ones compiled with.
    """
    caps = None
    if observed is not None:
        caps = sorted(
            (name, n if n > int(world.datasets[name].max_rows_per_user or 1000) else 0)
            for name, n in observed.items()
        )
    key = repr((world.name, case, caps, seed if SEEDED else 0))
    if key in _COMPILED:
        return _COMPILED[key]
    extra: dict[str, Any] = {"seed": seed} if SEEDED else {}
    compiled = compile_template(
        case.sql,
        case.parameters,
        case.values,
        case.purpose,
        world.policy,
        world.datasets,
        case.bounds,
        engines=("duckdb",),
        observed_max_rows=observed,
        consent=case.consent,
        **extra,
    )
    if len(_COMPILED) > 512:
        _COMPILED.clear()
    _COMPILED[key] = compiled
    return compiled


@dataclass(frozen=True)
class Outcome:
    exact: Exact | None = None
    error: str | None = None
    outside_domain: int = 0  # result rows dropped by dp for a key value outside its domain
    groups_per_person: Mapping[bytes | str, int] | None = None  # cr_partial groups, when probed


def _number(value: int | float | Decimal) -> float:
    return float(value)


def execute(world: World, compiled: CompiledQuery, data: Data, probe_groups: bool) -> Outcome:
    """Run the compiled SQL as the engine does (``conn.sql(sql).to_arrow_table()``), then take
    the exact vectors ``dp`` would noise."""
    con = connect(world, data)
    try:
        table = con.sql(compiled.duckdb_sql).to_arrow_table()
        cands = candidates(compiled.plan, table)
    except (duckdb.Error, CleanroomError) as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
    exact: Exact = {}
    for index, group in enumerate(cands.groups):
        exact[group] = {c: _number(v[index]) for c, v in cands.exact.items()}
    per_person = _groups_per_person(con, compiled.duckdb_sql) if probe_groups else None
    dropped = table.num_rows - _present(cands.groups, table, compiled.plan)
    return Outcome(exact, None, dropped, per_person)


def _present(groups: list[GroupTuple], table: pa.Table, plan: ReleasePlan) -> int:
    if not plan.group_keys:
        return table.num_rows
    keys = [[json_value(v) for v in table.column(k.name).to_pylist()] for k in plan.group_keys]
    wanted = set(groups)
    return sum(1 for g in zip(*keys, strict=True) if g in wanted)


_PROBES: dict[str, str | None] = {}


def _probe_sql(sql: str) -> str | None:
    if sql not in _PROBES:
        if len(_PROBES) > 512:
            _PROBES.clear()
        try:
            tree = sqlglot.parse_one(sql, read="duckdb")
        except sqlglot.errors.ParseError:
            tree = None
        with_ = tree.args.get("with_") if tree is not None else None
        if with_ is None or not any(c.alias == "cr_partial" for c in with_.expressions):
            _PROBES[sql] = None
        else:
            probe = "SELECT cr_pid, COUNT(*) FROM cr_partial GROUP BY cr_pid"
            _PROBES[sql] = f"{with_.sql('duckdb')} {probe}"
    return _PROBES[sql]


def _groups_per_person(con: duckdb.DuckDBPyConnection, sql: str) -> dict[bytes | str, int] | None:
    """Partial groups per person in the compiled SQL's ``cr_partial`` stage (None: no such stage
    or it cannot be read). Only needed while the group cap orders by RANDOM()."""
    probe = _probe_sql(sql)
    if probe is None:
        return None
    try:
        rows = con.sql(probe).fetchall()
    except duckdb.Error:
        return None
    return {r[0]: int(r[1]) for r in rows if r[0] is not None}


def group_cap_stage(sql: str) -> bool:
    """Does the compiled SQL cap groups per person by a RANDOM() order (the pre-seed rewrite)?"""
    return "cr_group_rank" in sql and "RANDOM()" in sql.upper()


# --- static checks on the compiled SQL ------------------------------------------------------------
def unwrapped_reads(world: World, case: Case, sql: str) -> list[str]:
    """Table references in the compiled SQL that are not a CTE, the suppression view or a dataset
    view read through the rewrite's filters (consent for the purpose, suppression)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {c.alias.lower() for c in tree.find_all(exp.CTE)}
    views = {dataset_view(s.name): s for s in world.datasets.values()}
    problems = []
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if name in ctes or name == SUPPRESSION_VIEW:
            continue
        spec = views.get(name)
        if spec is None:
            problems.append(
                f"reads '{table.sql('duckdb')}', which is neither a CTE nor a dataset view"
            )
            continue
        if not spec.is_personal:
            continue
        select = table.find_ancestor(exp.Select)
        where = select.args.get("where") if select is not None else None
        text = where.sql("duckdb") if where is not None else ""
        consent = spec.consent_column(case.purpose)
        if spec.name == case.consent:  # a consent analysis carries it instead of filtering
            carried = consent is not None and f"COALESCE(d.{consent.name} IS TRUE, FALSE)" in (
                select.sql("duckdb") if select is not None else ""
            )
            if SUPPRESSION_VIEW not in text or not carried:
                problems.append(f"reads consent dataset {name} without suppression or consented")
        elif SUPPRESSION_VIEW not in text or (
            consent is not None and f"{consent.name} IS TRUE" not in text
        ):
            problems.append(f"reads personal view {name} without the consent/suppression filters")
    return problems


# --- comparison -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    # l1 | l2 | failure_one_side | failure_both | never_runs | suppressed_visible | unwrapped | ...
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.detail}"


def compare(plan: ReleasePlan, before: Exact, after: Exact) -> list[Finding]:
    findings = []
    groups = list(dict.fromkeys([*before, *after]))
    for m in plan.measurements:
        deltas = []
        for g in groups:
            a = before.get(g, {}).get(m.column, 0.0)
            b = after.get(g, {}).get(m.column, 0.0)
            deltas.append((g, b - a, max(abs(a), abs(b))))
        scale = max((s for _, _, s in deltas), default=0.0)
        l1 = sum(abs(d) for _, d, _ in deltas)
        l2 = math.sqrt(sum(d * d for _, d, _ in deltas))
        tol = 1e-9 * (m.l1_sensitivity + scale * len(groups)) + 1e-9
        changed = [(g, d) for g, d, _ in deltas if abs(d) > tol]
        worst = sorted(changed, key=lambda x: -abs(x[1]))[:4]
        shown = ", ".join(f"{list(g)}: {d:+g}" for g, d in worst)
        facts = (
            f"{len(changed)} groups changed (max_groups {m.max_groups}), largest "
            f"{max((abs(d) for _, d in changed), default=0):g} (per-group bound {m.bound:g}); "
            f"{shown}"
        )
        if l1 > m.l1_sensitivity + tol:
            findings.append(
                Finding(
                    "l1",
                    f"{m.column} ({m.kind}): L1 change {l1:g} > l1_sensitivity "
                    f"{m.l1_sensitivity:g}; {facts}",
                )
            )
        elif l2 > m.l2_sensitivity + tol:
            findings.append(
                Finding(
                    "l2",
                    f"{m.column} ({m.kind}): L2 change {l2:g} > l2_sensitivity "
                    f"{m.l2_sensitivity:g}; {facts}",
                )
            )
    return findings


@dataclass
class Check:
    """The verdict on one (template, D, neighbour)."""

    findings: list[Finding] = field(default_factory=list)
    skipped: str | None = None  # why the comparison was not made (interim RANDOM() caps)
    outside_domain: int = 0
    sql: str = ""

    @property
    def ok(self) -> bool:
        return not self.findings


def check_neighbour(
    world: World,
    case: Case,
    data: Data,
    neighbour: Neighbour,
    *,
    seed: int = 0,
    use_observed: bool = True,
    repeat: bool = False,
) -> Check:
    """Compile for D and for D' (each with its own observed row maxima), run both, compare."""
    if not SEEDED:
        neighbour = neighbour.within_caps(world)
    other = neighbour.apply(data)
    # D' of an added person is the bigger version; for a removal D is. Report as (small, big).
    small, big = (data, other) if neighbour.removed is None else (other, data)
    compiled = {}
    for label, version in (("D", small), ("D'", big)):
        observed = observed_max_rows(world, version) if use_observed else None
        try:
            compiled[label] = compile_case(world, case, observed, seed)
        except TemplateRejected as rejected:
            codes = sorted({v.code for v in rejected.violations})
            return Check([Finding("compile_data_dependent", f"{label} rejected with {codes}")])
    sqls = {c.duckdb_sql for c in compiled.values()}
    out = Check(sql=compiled["D'"].duckdb_sql)
    for sql in sqls:
        for problem in unwrapped_reads(world, case, sql):
            out.findings.append(Finding("unwrapped", problem))
    plan = compiled["D"].plan
    if compiled["D'"].plan != plan:
        out.findings.append(
            Finding("plan_data_dependent", "the release plan differs between D and D'")
        )
    probe = not SEEDED and any(group_cap_stage(s) for s in sqls)
    runs = {
        label: execute(world, compiled[label], version, probe)
        for label, version in (("D", small), ("D'", big))
    }
    a, b = runs["D"], runs["D'"]
    if a.error or b.error:
        if a.error and b.error:
            # A binder error fails every dataset alike: no bit about anyone is released, but an
            # accepted template that can never run is a compiler defect all the same.
            binder = a.error.startswith("BinderException") and b.error.startswith("BinderException")
            kind = "never_runs" if binder else "failure_both"
            out.findings.append(Finding(kind, f"D: {a.error}; D': {b.error}"))
        else:
            side, error = ("D", a.error) if a.error else ("D'", b.error)
            out.findings.append(Finding("failure_one_side", f"only {side} fails: {error}"))
        return out
    assert a.exact is not None
    assert b.exact is not None
    out.outside_domain = max(a.outside_domain, b.outside_domain)
    if probe:
        mover = pid_key(neighbour.person, data.pid_type)
        over = plan.max_groups_per_user
        for run in (a, b):
            if run.groups_per_person is None:
                out.skipped = "group cap by RANDOM(): cr_partial unreadable"
                return out
            if any(n > over for p, n in run.groups_per_person.items() if p != mover):
                out.skipped = "group cap by RANDOM() binds for a person of D"
                return out
    if neighbour.suppress_added and neighbour.removed is None and a.exact != b.exact:
        diff = [g for g in dict.fromkeys([*a.exact, *b.exact]) if a.exact.get(g) != b.exact.get(g)]
        out.findings.append(
            Finding("suppressed_visible", f"a suppressed person changed groups {diff[:4]}")
        )
    out.findings.extend(compare(plan, a.exact, b.exact))
    if repeat and SEEDED:
        again = execute(world, compiled["D"], small, False)
        if again.exact != a.exact:
            out.findings.append(Finding("nondeterministic", "D run twice gives two results"))
    return out
