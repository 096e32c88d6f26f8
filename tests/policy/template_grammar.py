"""A hypothesis grammar of the template language (docs/template-language.md), over any world.

Templates are built from the world's dataset specs, tracking the kind of every column in scope
(person key, nullable person key, text, integer, number, timestamp, boolean; raw personal metric
or not), so that most are well typed and many are accepted. It generates the documented shapes:

- CTEs and inline subqueries: projections, per-person rollups (``GROUP BY pid``), window steps
  (``ROW_NUMBER``/``LAG``/``LEAD``/``COUNT``/``SUM OVER (PARTITION BY pid ...)``, ``QUALIFY``);
- INNER / LEFT / ASOF joins on ``pid`` (``ON`` or ``USING``), joins to reference datasets on
  dimension columns, sensitive columns carried through CTEs and grouping a fairness release,
  consent analyses whose ``consented`` is carried through CTEs and groups the release,
  ``EXISTS`` / ``NOT EXISTS`` correlated on ``pid``;
- ``CASE`` buckets, arithmetic, casts, ``COALESCE``, date functions, filters, list parameters;
- a release with group keys (positions, aliases, ``ALL``), ``COUNT(DISTINCT pid)`` (plain,
  ``FILTER``, ``CASE WHEN ... THEN pid``), ``COUNT(*)``, ``SUM``/``AVG`` (with ``FILTER``),
  post-noise arithmetic, ``HAVING``, ``ORDER BY``, ``LIMIT`` and header ``bounds``;

and, on purpose, the adversarial ones: ``pid = pid`` under ``OR``/``NOT``/``CASE``/``IS``, in a
subquery's select list, or comparing two inner pids; windows and rollups partitioned or grouped by
the null-supplying side's pid; aliases spelling the rewrite's internal names (``cr_pid``,
``cr_k0``, ``cr_group_rank``, ``cr_partial``, ``cr_sub1``, ``cr_persons``, ...); subqueries inside
release aggregates' ``FILTER``; sensitive columns filtered, joined, transformed, aggregated
or grouped outside a fairness release; a consent analysis's ``consented`` (header ``-- consent:``)
grouping a release of person counts (accepted) or filtered, joined, transformed, aggregated,
grouped per person, read without the header, or beside other aggregates (refused); integer
division, modulo, narrowing casts and overflowing arithmetic over data values; data-dependent
``INTERVAL`` amounts; reference joins on a personal metric.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from hypothesis import strategies as st

from cleanroom.specs import FAIRNESS_PURPOSE, ParamSpec
from tests.policy.neighbours import Case, World

INTERNAL_NAMES = (
    "cr_pid", "cr_k0", "cr_k1", "cr_group_rank", "cr_rand", "cr_row", "cr_partial", "cr_capped",
    "cr_shuffled", "cr_persons", "cr_m1", "cr_m2", "cr_key0", "cr_sub1", "cr_allowed",
)  # fmt: skip
T = TypeVar("T")
# Adversarial shapes a template may have planted (each placed once, where it fits).
PLANTS = (
    "corr", "nullable_window", "nullable_group", "names", "filter_subquery", "arith", "interval",
    "refmetric",
)  # fmt: skip
INTERNAL_ALIASES = ("cr_sub1", "cr_sub2", "cr_sub3")  # the only cr_ FROM aliases allowed


@dataclass(frozen=True)
class Col:
    name: str
    kind: str  # pid | text | int | num | ts | bool
    nullable: bool = False  # a pid of a null-supplying side
    metric: bool = False  # derived from a raw personal metric value (not a group key)
    bounded: bool = False  # numeric with (probably) known bounds
    domain: tuple[Any, ...] | None = None
    sensitive: bool = False  # a sensitive column (only carried, or a fairness release's key)
    consent: bool = False  # a consent analysis's ``consented`` (only carried, or a release key)


@dataclass
class Rel:
    alias: str
    cols: list[Col]
    personal: bool
    dataset: str | None = None  # a dataset (not a CTE or subquery)

    def pid(self) -> Col | None:
        return next((c for c in self.cols if c.kind == "pid"), None)


@dataclass
class Scope:
    rels: list[Rel] = field(default_factory=list)
    parent: Scope | None = None

    def cols(self, *kinds: str) -> list[tuple[Rel, Col]]:
        """Columns of ``kinds`` that expressions may use (not the sensitive or consent ones)."""
        return [
            (r, c)
            for r in self.rels
            for c in r.cols
            if (not kinds or c.kind in kinds) and not c.sensitive and not c.consent
        ]

    def sensitive(self) -> list[tuple[Rel, Col]]:
        return [(r, c) for r in self.rels for c in r.cols if c.sensitive]

    def consent(self) -> list[tuple[Rel, Col]]:
        return [(r, c) for r in self.rels for c in r.cols if c.consent]

    def restricted(self) -> list[tuple[Rel, Col]]:
        """Columns that may only be carried as they are or be a release key."""
        return self.sensitive() + self.consent()

    def pids(self) -> list[tuple[Rel, Col]]:
        return self.cols("pid")

    def personal(self) -> bool:
        return any(r.personal for r in self.rels)


def ref(rel: Rel, col: Col) -> str:
    return f"{rel.alias}.{col.name}"


class Gen:
    """One template's generator: ``draw`` decides, ``world`` supplies the schema."""

    def __init__(
        self,
        draw: st.DrawFn,
        world: World,
        adversarial: float,
        plants: frozenset[str] = frozenset(),
        purpose: str = "measurement",
        consent: str | None = None,
    ) -> None:
        self.draw = draw
        self.world = world
        self.purpose = purpose
        self.consent = consent  # a consent analysis's dataset: its relations carry consented
        self.adversarial = adversarial
        self.plants = plants
        self.pending = set(plants) - {"names"}  # planted shapes not placed yet ("names" is
        # everywhere: aliases and output names spell the rewrite's internal names)
        self.preferred: str | None = None  # a CTE holding a planted shape: the release reads it
        self.planted_col: str | None = None  # its column carrying the planted value
        self.in_release = False
        self.ctes: dict[str, Rel] = {}
        self.params: list[ParamSpec] = []
        self.bounds: dict[str, tuple[float, float]] = {}
        self.aliases = 0
        self.names = 0

    # --- choices ---------------------------------------------------------------------------------
    def p(self, probability: float) -> bool:
        # The upper tail: hypothesis over-draws small integers (twice as often as uniform), and
        # shrinking then moves towards "no" (simpler templates).
        return self.draw(st.integers(0, 999)) >= 1000 - probability * 1000

    def adv(self, weight: float = 1.0) -> bool:
        """Take an adversarial branch (the template's adversarial rate times ``weight``)."""
        return self.p(min(1.0, self.adversarial * weight))

    def pick(self, items: Sequence[T]) -> T:
        return self.draw(st.sampled_from(list(items)))

    def plant(self, shape: str) -> bool:
        """Place planted ``shape`` here (once per template)."""
        if shape in self.pending:
            self.pending.discard(shape)
            return True
        return False

    def alias(self, base: str) -> str:
        self.aliases += 1
        if self.adv(0.15) or ("names" in self.plants and self.p(0.4)):
            return self.pick(INTERNAL_ALIASES)
        return f"{base[:1]}{self.aliases}"

    def name(self, base: str = "c") -> str:
        self.names += 1
        if self.adv(0.12) or ("names" in self.plants and self.p(0.4)):
            return self.pick(INTERNAL_NAMES)
        return f"{base}{self.names}"

    # --- relations -------------------------------------------------------------------------------
    def dataset_rel(self, name: str, alias: str) -> Rel:
        spec = self.world.datasets[name]
        cols: list[Col] = [Col("pid", "pid")] if spec.is_personal else []
        for c in spec.stored_columns():
            if c.role in ("dimension", "sensitive"):
                numeric = c.values is not None and all(
                    isinstance(v, int) and not isinstance(v, bool) for v in c.values
                )
                kind = "int" if numeric else "text"
                cols.append(Col(c.name, kind, domain=c.values, sensitive=c.role == "sensitive"))
            elif c.role == "metric":
                integer = c.bounds is None or all(float(b).is_integer() for b in c.bounds)
                cols.append(
                    Col(
                        c.name,
                        "int" if integer else "num",
                        metric=spec.is_personal,
                        bounded=c.bounds is not None,
                    )
                )
            elif c.role == "timestamp":
                cols.append(Col(c.name, "ts"))
        if name == self.consent:
            cols.append(Col("consented", "bool", domain=(False, True), consent=True))
        return Rel(alias, cols, spec.is_personal, name)

    def fresh_alias(self, scope: Scope, base: str, plain: str | None = None) -> str:
        """An alias unused in ``scope`` (``plain``, a dataset or CTE name, now and then)."""
        used = {r.alias for r in scope.rels}
        alias = plain if plain is not None and self.p(0.25) else self.alias(base)
        while alias in used:
            alias = f"{base[:1]}{self.aliases}x{len(used)}"
            self.aliases += 1
        return alias

    def personal_source(
        self, scope: Scope, depth: int, other_dataset: bool = False
    ) -> tuple[Rel, str]:
        """A personal FROM item (a dataset, a CTE or an inline local step) and its FROM text;
        ``other_dataset``: a dataset not in ``scope`` yet (a LEFT JOIN with unmatched rows)."""
        options = ["dataset"] * 4 + ["cte"] * (3 if self.ctes else 0)
        options += ["subquery"] if depth < 2 else []
        kind = "dataset" if other_dataset else self.pick(options)
        preferred = self.preferred if self.in_release and depth == 0 else None
        # A consent analysis's release reads its dataset first (else it is refused).
        release_reads_consent = (
            self.consent is not None
            and self.in_release
            and depth == 0
            and not scope.rels
            and preferred is None
            and not self.adv(0.1)
        )
        if release_reads_consent:
            kind = "dataset"
        if preferred is not None or kind == "cte":
            name = preferred or self.pick(sorted(self.ctes))
            self.preferred = None
            alias = self.fresh_alias(scope, name, name)
            sql = name if alias == name else f"{name} {alias}"
            return Rel(alias, list(self.ctes[name].cols), self.ctes[name].personal), sql
        if kind == "subquery":
            body, rel = self.local_step(depth + 1)
            alias = self.fresh_alias(scope, "s")
            return Rel(alias, rel.cols, rel.personal), f"({body}) {alias}"
        names = [s.name for s in self.world.personal()]
        if other_dataset:
            names = [n for n in names if n not in {r.dataset for r in scope.rels}] or names
        if self.consent in names and (release_reads_consent or self.p(0.3)):
            names = [self.consent]
        name = self.pick(names)
        alias = self.fresh_alias(scope, name, name)
        sql = name if alias == name else f"{name} {alias}"
        return self.dataset_rel(name, alias), sql

    def from_clause(self, scope: Scope, depth: int, force_left: bool = False) -> str:
        first, sql = self.personal_source(scope, depth)
        scope.rels.append(first)
        if force_left:
            sql += " " + self.personal_join(scope, depth, "LEFT JOIN", other_dataset=True)
        for _ in range(self.draw(st.integers(0, 2))):
            if self.p(0.3) and self.joinable_reference(scope):
                sql += " " + self.reference_join(scope)
            else:
                sql += " " + self.personal_join(scope, depth)
        metrics = [c for _, c in scope.cols("int", "num") if c.metric]
        if metrics and self.world.reference() and self.plant("refmetric"):
            sql += " " + self.reference_join(scope, hostile=True)
        return sql

    def personal_join(
        self, scope: Scope, depth: int, kind: str | None = None, other_dataset: bool = False
    ) -> str:
        left = self.pick([r for r in scope.rels if r.pid() is not None] or scope.rels)
        right, source = self.personal_source(scope, depth, other_dataset)
        lts = [c for c in left.cols if c.kind == "ts"]
        rts = [c for c in right.cols if c.kind == "ts"]
        kinds = ["JOIN", "INNER JOIN", "LEFT JOIN", "LEFT JOIN"]
        if lts and rts:
            kinds += ["ASOF LEFT JOIN", "ASOF JOIN"]
        kind = kind or self.pick(kinds)
        lp, rp = left.pid() or Col("pid", "pid"), right.pid() or Col("pid", "pid")
        equality = f"{right.alias}.{rp.name} = {left.alias}.{lp.name}"
        if self.p(0.5):
            equality = f"{left.alias}.{lp.name} = {right.alias}.{rp.name}"
        conds = [equality]
        if kind.startswith("ASOF"):
            op = self.pick([">=", "<=", ">", "<"])
            conds.append(f"{ref(right, self.pick(rts))} {op} {ref(left, self.pick(lts))}")
        elif lts and rts and self.p(0.4):
            a, b = ref(right, self.pick(rts)), ref(left, self.pick(lts))
            conds.append(
                self.pick(
                    [
                        f"{a} >= {b}",
                        f"{a} BETWEEN {b} AND {b} + INTERVAL {self.pick([1, 7, 14])} DAY",
                        f"{a} <= {b} + INTERVAL ({self.int_param()}) DAY",
                    ]
                )
            )
        elif self.p(0.2):
            conds.append(self.condition(Scope([left, right], scope.parent), 1))
        on = " AND ".join(conds)
        if (self.adv(0.1) and kind == "LEFT JOIN") or self.adv(0.05):
            on = f"{equality} OR {self.condition(Scope([left, right], scope.parent), 1)}"
        if kind in ("JOIN", "LEFT JOIN") and self.p(0.1):
            clause = f"{kind} {source} USING (pid)"
        else:
            clause = f"{kind} {source} ON {on}"
        if "LEFT" in kind:
            right = Rel(
                right.alias,
                [replace(c, nullable=True) if c.kind == "pid" else c for c in right.cols],
                right.personal,
                right.dataset,
            )
        scope.rels.append(right)
        return clause

    def joinable_reference(self, scope: Scope) -> bool:
        """Does some reference dataset share a dimension with ``scope``?"""
        return any(
            c.name == d.name and c.kind == d.kind
            for spec in self.world.reference()
            for d in self.dataset_rel(spec.name, "r").cols
            for _, c in scope.cols("text", "int")
        )

    def reference_join(self, scope: Scope, hostile: bool = False) -> str:
        names = {c.name for _, c in scope.cols("text", "int")}
        shared = [s for s in self.world.reference() if names & {d.name for d in s.stored_columns()}]
        spec = self.pick(shared if shared and not hostile else self.world.reference())
        rel = self.dataset_rel(spec.name, self.fresh_alias(scope, spec.name))
        pairs = [
            (r, c, d)
            for r in scope.rels
            for c in r.cols
            for d in rel.cols
            if c.name == d.name and c.kind == d.kind
        ]
        kind = self.pick(["JOIN", "LEFT JOIN"])
        if pairs and not hostile and not self.adv(0.6):
            r, c, d = self.pick(pairs)
            on = f"{rel.alias}.{d.name} = {ref(r, c)}"
        else:
            # adversarial: the reference matched on a personal metric (or a cast of one)
            metrics = [(r, c) for r, c in scope.cols("int", "num") if c.metric]
            rmetrics = [d for d in rel.cols if d.kind in ("int", "num")]
            rtexts = [d for d in rel.cols if d.kind == "text"]
            if metrics and rmetrics and self.p(0.7):
                r, c = self.pick(metrics)
                on = f"{rel.alias}.{self.pick(rmetrics).name} = {ref(r, c)}"
            elif metrics and rtexts:
                r, c = self.pick(metrics)
                on = f"{rel.alias}.{self.pick(rtexts).name} = CAST({ref(r, c)} AS VARCHAR)"
            elif pairs:
                r, c, d = self.pick(pairs)
                on = f"{rel.alias}.{d.name} = {ref(r, c)}"
            else:
                texts = scope.cols("text")
                d = rtexts[0] if rtexts else rel.cols[0]
                on = f"{rel.alias}.{d.name} = {ref(*texts[0])}" if texts else "TRUE"
        scope.rels.append(rel)
        return f"{kind} {spec.name} {rel.alias} ON {on}"

    # --- expressions -----------------------------------------------------------------------------
    def column(self, scope: Scope, *kinds: str) -> tuple[str, Col] | None:
        cols = scope.cols(*kinds)
        if scope.restricted() and self.adv(0.1):  # used in an expression: always rejected
            cols = (
                [(r, c) for r, c in scope.restricted() if not kinds or c.kind in kinds]
                or scope.consent()
                or cols
            )
        if not cols:
            return None
        rel, col = self.pick(cols)
        return ref(rel, col), col

    def int_param(self) -> str:
        name = f"n{len(self.params) + 1}"
        self.params.append(ParamSpec(name, "int", self.pick([1, 7, 14, 30]), True))
        return f":{name}"

    def ts_param(self) -> str:
        name = f"t{len(self.params) + 1}"
        value = self.pick(["2024-03-01 12:00:00", "2024-02-15 00:00:00", "2024-03-20 08:30:00"])
        self.params.append(ParamSpec(name, "timestamp", value, True))
        return f":{name}"

    def list_param(self, col: Col) -> str:
        name = f"l{len(self.params) + 1}"
        if col.kind == "int":
            pool: tuple[Any, ...] = col.domain or (1, 2, 3)
            values = self.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
            self.params.append(ParamSpec(name, "list[int]", values, True))
        else:
            pool = col.domain or self.world.pools.get(col.name, ("a", "b"))
            values = self.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
            self.params.append(ParamSpec(name, "list[str]", [str(v) for v in values], True))
        return f":{name}"

    def number(self, scope: Scope, depth: int, want_int: bool = False) -> tuple[str, Col]:
        """A numeric expression and what is known of it."""
        col = self.column(scope, "int") if want_int else self.column(scope, "int", "num")
        shallow = ["column"] * 5 + ["literal"] * 2
        deep = ["arith"] * 3 + ["least", "coalesce", "case", "cast", "round", "datediff"]
        deep += ["extract", "nullif", "neg", "text_cast"]
        branch = self.pick(shallow + (deep if depth < 2 else []))
        if branch == "column" and col is not None:
            return col
        if branch in ("column", "literal") or col is None:
            value: int | float = self.pick(
                [0, 1, 2, 5, 10, 100, -1] + ([0.5] if not want_int else [])
            )
            if self.adv(0.2):
                value = self.pick([2147483647, 9223372036854775807, -9223372036854775807])
            return str(value), Col("lit", "int" if isinstance(value, int) else "num", bounded=True)
        a, ca = self.number(scope, depth + 1, want_int)
        if branch == "arith":
            b, cb = self.number(scope, depth + 1, want_int)
            op = self.pick(["+", "-", "*"] + (["//", "%"] if self.adv(0.5) else []))
            if op in ("//", "%") and not want_int and self.p(0.5):
                op = "/"
            kind = "int" if ca.kind == cb.kind == "int" and op != "/" else "num"
            bounded = ca.bounded and cb.bounded and op in ("+", "-", "*")
            return f"({a} {op} {b})", Col("e", kind, metric=ca.metric or cb.metric, bounded=bounded)
        if branch == "least":
            lit = self.pick([0, 1, 5, 100, 10000])
            fn = self.pick(["LEAST", "GREATEST"])
            return f"{fn}({a}, {lit})", replace(ca, name="e", bounded=ca.bounded or fn == "LEAST")
        if branch == "coalesce":
            return f"COALESCE({a}, 0)", replace(ca, name="e")
        if branch == "case":
            cond = self.condition(scope, depth + 1)
            b, cb = self.number(scope, depth + 1, want_int)
            kind = "int" if ca.kind == cb.kind == "int" else "num"
            return (
                f"CASE WHEN {cond} THEN {a} ELSE {b} END",
                Col("e", kind, metric=ca.metric or cb.metric, bounded=ca.bounded and cb.bounded),
            )
        if branch == "cast":
            target = self.pick(["INTEGER", "BIGINT", "DOUBLE", "SMALLINT", "DECIMAL(9, 2)"])
            if want_int and target in ("DOUBLE", "DECIMAL(9, 2)"):
                target = "BIGINT"
            kind = "int" if target in ("INTEGER", "BIGINT", "SMALLINT") else "num"
            fn = "TRY_CAST" if self.p(0.3) else "CAST"
            return f"{fn}({a} AS {target})", replace(ca, name="e", kind=kind)
        if branch == "round":
            fn = self.pick(["ABS", "ROUND", "FLOOR", "CEIL"])
            return f"{fn}({a})", replace(ca, name="e", kind="int" if fn != "ROUND" else ca.kind)
        if branch == "datediff":
            ts = self.column(scope, "ts")
            other = self.column(scope, "ts")
            if ts is not None and other is not None:
                unit = self.pick(["day", "hour", "week", "month"])
                return f"DATE_DIFF('{unit}', {ts[0]}, {other[0]})", Col("e", "int")
            return a, ca
        if branch == "extract":
            ts = self.column(scope, "ts")
            if ts is not None:
                part = self.pick(["hour", "dow", "month", "year", "epoch"])
                return f"EXTRACT({part} FROM {ts[0]})", Col("e", "int", bounded=False)
            return a, ca
        if branch == "text_cast":
            text = self.column(scope, "text")
            if text is not None and self.adv(0.6):
                fn = "TRY_CAST" if self.p(0.3) else "CAST"
                return f"{fn}({text[0]} AS BIGINT)", Col("e", "int")
            return f"({a})", ca
        if branch == "nullif":
            return f"NULLIF({a}, 0)", replace(ca, name="e")
        return f"-{a}" if not a.startswith("-") else a, replace(ca, name="e")

    def hostile_arithmetic(self, scope: Scope) -> str:
        """A condition that fails the run on some data values (division or modulo by zero,
        narrowing casts, overflow, text to number): totality is data-dependent."""
        ints = [(r, c) for r, c in scope.cols("int") if c.metric] or scope.cols("int")
        texts = scope.cols("text")
        if not ints:
            return self.condition(scope, 1)
        a, b = ref(*self.pick(ints)), ref(*self.pick(ints))
        shapes = [
            f"({a} // {b}) > 1",
            f"({a} % {b}) = 0",
            f"CAST({a} AS INTEGER) > 0",
            f"CAST({a} AS SMALLINT) > 0",
            f"({a} * {a} * {a}) > 0",
            f"({a} + 9223372036854775000) > 0",
            f"CAST({a} AS DECIMAL(6, 1)) > 0",
            f"ABS({a}) > 0",
            f"(-{a}) < 0",
            f"({a} / {b}) > 1",
        ]
        if texts:
            shapes.append(f"CAST({ref(*self.pick(texts))} AS BIGINT) > 0")
        return self.pick(shapes)

    def hostile_interval(self, scope: Scope) -> str:
        """A timestamp moved by a data value: overflows for some values."""
        ts = self.column(scope, "ts")
        n = self.column(scope, "int")
        if ts is None or n is None:
            return self.condition(scope, 1)
        unit = self.pick(["DAY", "HOUR", "MONTH", "YEAR"])
        other = self.timestamp(scope, 2) or self.ts_param()
        return f"{ts[0]} + INTERVAL ({n[0]}) {unit} > {other}"

    def text(self, scope: Scope, depth: int) -> str:
        col = self.column(scope, "text")
        choice = self.draw(st.integers(0, 6))
        if col is not None and choice <= 2:
            return col[0]
        if col is not None and choice == 3:
            return f"{self.pick(['LOWER', 'UPPER', 'TRIM'])}({col[0]})"
        if choice == 4 and depth < 2:
            n, _ = self.number(scope, depth + 1)
            return f"CAST({n} AS VARCHAR)"
        if col is not None and choice == 5:
            return f"COALESCE({col[0]}, 'none')"
        return "'" + str(self.pick(["acme", "c1", "online", "x", "north", "vip"])) + "'"

    def timestamp(self, scope: Scope, depth: int) -> str | None:
        col = self.column(scope, "ts")
        if col is None:
            return None
        choice = self.draw(st.integers(0, 5))
        if choice <= 1:
            return col[0]
        if choice == 2:
            return f"DATE_TRUNC('{self.pick(['day', 'week', 'month', 'year'])}', {col[0]})"
        if choice == 3:
            amount = self.pick(["7", "1", f"({self.int_param()})"])
            return f"{col[0]} {self.pick(['+', '-'])} INTERVAL {amount} DAY"
        if choice == 4 and self.adv(0.8):
            n = self.column(scope, "int")
            if n is not None:  # a data-dependent interval amount
                return f"{col[0]} + INTERVAL ({n[0]}) {self.pick(['DAY', 'HOUR', 'MONTH'])}"
        if choice == 5:
            return self.ts_param()
        return col[0]

    def correlation(self, inner: Rel, scope: Scope, hostile: bool = False) -> str:
        """The pid condition of an EXISTS over ``inner`` against the enclosing ``scope``."""
        outer = [(r, c) for r, c in scope.pids() if not c.nullable or self.adv(0.5)] or scope.pids()
        ip = inner.pid()
        assert ip is not None
        i = f"{inner.alias}.{ip.name}"
        if not outer:
            return f"{i} = {i}"
        o = ref(*self.pick(outer))
        eq = f"{i} = {o}"
        if not hostile and not self.adv(0.6):
            return eq
        return self.pick(
            [
                f"({eq} OR {self.selective(inner)})",
                f"NOT ({eq})",
                f"{i} = {i}",
                f"{i} <> {o}",
                f"CASE WHEN {eq} THEN TRUE ELSE {self.selective(inner)} END",
                f"({eq}) IS NOT TRUE",
                f"({eq} OR {o} IS NULL)",
                f"{eq} OR TRUE",
            ]
        )

    def selective(self, rel: Rel) -> str:
        """A condition on ``rel``'s own columns that some rows meet and others do not."""
        cols = [c for c in rel.cols if c.kind in ("text", "int", "num", "ts")]
        if not cols:
            return "TRUE"
        col = self.pick(cols)
        if col.kind == "text":
            values = col.domain or self.world.pools.get(col.name, ("a",))
            return f"{rel.alias}.{col.name} = '{self.pick(values)}'"
        if col.kind == "ts":
            return f"{rel.alias}.{col.name} >= {self.ts_param()}"
        return f"{rel.alias}.{col.name} {self.pick(['>', '<=', '='])} {self.pick([0, 1, 3, 100])}"

    def exists(self, scope: Scope, depth: int, hostile: bool = False) -> str:
        # Another dataset than the outer rows' (EXISTS over the outer dataset itself is true for
        # every outer row, whatever its correlation).
        outer = {r.dataset for s in (scope, scope.parent) if s for r in s.rels}
        others = [d for d in self.world.personal() if d.name not in outer]
        spec = self.pick(others if others and (hostile or self.p(0.7)) else self.world.personal())
        alias = self.alias("x")
        if alias in {r.alias for s in (scope, scope.parent) if s for r in s.rels}:
            alias += "y"
        source = spec.name
        if self.ctes and self.p(0.25):
            source = self.pick(sorted(self.ctes))
            inner = Rel(alias, list(self.ctes[source].cols), True)
        else:
            inner = self.dataset_rel(spec.name, alias)
        if inner.pid() is None:
            return "TRUE"
        corr = self.correlation(inner, scope, hostile)
        negate = "NOT " if self.p(0.35) else ""
        if self.adv(0.2) or (hostile and self.p(0.15)):  # the correlation in the select list
            return f"{negate}EXISTS (SELECT {corr} FROM {source} {alias})"
        extra = ""
        if self.p(0.5):
            extra = " AND " + self.selective(inner)
        return f"{negate}EXISTS (SELECT 1 FROM {source} {alias} WHERE {corr}{extra})"

    def condition(self, scope: Scope, depth: int) -> str:
        choice = self.draw(st.integers(0, 11 if depth < 2 else 5))
        if choice <= 1:
            a, _ = self.number(scope, depth + 1)
            b = self.pick(["0", "1", "5", "100", "10000"])
            return f"{a} {self.pick(['=', '<', '>=', '<>', '>'])} {b}"
        if choice == 2:
            col = self.column(scope, "text", "int")
            if col is not None and col[1].kind == "text":
                values = self.world.pools.get(col[1].name, ("a",))
                if col[1].domain:
                    values = tuple(str(v) for v in col[1].domain)
                if self.p(0.4):
                    return f"{col[0]} IN {self.list_param(col[1])}"
                lits = ", ".join(
                    f"'{v}'"
                    for v in self.draw(st.lists(st.sampled_from(values), min_size=1, max_size=2))
                )
                return f"{col[0]} IN ({lits})"
            if col is not None:
                return f"{col[0]} IN {self.list_param(col[1])}"
        if choice == 3:
            col = self.column(scope, "text", "int", "num", "ts")
            if col is not None:
                return f"{col[0]} IS {self.pick(['', 'NOT '])}NULL"
        if choice == 4:
            t = self.text(scope, depth + 1)
            op = self.pick(["=", "<>", "LIKE", "ILIKE"])
            return f"{t} {op} '{self.pick(['acme', 'c%', 'online', '%e%'])}'"
        if choice == 5:
            ta = self.timestamp(scope, depth + 1)
            tb = self.timestamp(scope, depth + 1)
            if ta is not None and tb is not None:
                return f"{ta} {self.pick(['<=', '>', '<'])} {tb}"
        if choice in (6, 7):
            a = self.condition(scope, depth + 1)
            b = self.condition(scope, depth + 1)
            return f"({a} {self.pick(['AND', 'OR'])} {b})"
        if choice == 8:
            return f"NOT ({self.condition(scope, depth + 1)})"
        if choice in (9, 10) and self.world.personal():
            return self.exists(scope, depth)
        if choice == 11:
            pids = scope.pids()
            if pids and self.adv(0.5):  # pid comparisons the checker must see through
                a, b = ref(*self.pick(pids)), ref(*self.pick(pids))
                return self.pick([f"{a} = {b}", f"{a} IS NOT NULL", f"({a} = {b}) = TRUE"])
        a, _ = self.number(scope, depth + 1)
        return f"{a} > 0"

    # --- local steps (CTE bodies and FROM subqueries) ------------------------------------------
    def owner_pid(self, scope: Scope) -> tuple[Rel, Col] | None:
        pids = scope.pids()
        owners = [(r, c) for r, c in pids if not c.nullable]
        if pids and (not owners or self.adv(0.3)):
            return self.pick(pids)  # may be the null-supplying side's pid
        return self.pick(owners) if owners else None

    def local_step(self, depth: int) -> tuple[str, Rel]:
        kind = self.pick(["projection", "rollup", "rollup", "window"])
        nullable_plant = ""
        if self.plant("nullable_window"):
            kind, nullable_plant = "window", "window"
        elif self.plant("nullable_group"):
            kind, nullable_plant = "rollup", "group"
        scope = Scope()
        from_sql = self.from_clause(scope, depth, force_left=bool(nullable_plant))
        owner = self.owner_pid(scope)
        right = [(r, c) for r, c in scope.pids() if c.nullable]
        if nullable_plant and right:
            if nullable_plant == "group":
                owner = self.pick(right)  # GROUP BY the null-supplying side's pid
            else:
                owners = [(r, c) for r, c in scope.pids() if not c.nullable]
                owner = owners[0] if owners else owner  # rows owned by the left side
        elif nullable_plant:
            self.pending.add(f"nullable_{nullable_plant}")
        where = f" WHERE {self.condition(scope, 1)}" if self.p(0.4) else ""
        if owner is None:
            return f"SELECT 1 AS one FROM {from_sql}", Rel("", [Col("one", "int")], True)
        pid_sql = ref(*owner)
        out: list[str] = [pid_sql]
        cols: list[Col] = [Col("pid", "pid", nullable=owner[1].nullable)]
        used = {"pid"}

        def add(sql: str, col: Col) -> None:
            name = self.name()
            while name in used:
                name = f"{name}_{len(used)}"
            used.add(name)
            out.append(f"{sql} AS {name}")
            cols.append(replace(col, name=name))

        if kind == "rollup":
            group = [pid_sql]
            if scope.consent() and self.adv(0.2):  # a per-person group of the consent: refused
                consented = ref(*self.pick(scope.consent()))
                group.append(consented)
                add(consented, Col("", "bool"))
            elif self.p(0.3):
                dim = self.column(scope, "text", "int")
                if dim is not None and not dim[1].metric:
                    group.append(dim[0])
                    add(dim[0], dim[1])
            for _ in range(self.draw(st.integers(1, 3))):
                agg = self.pick(
                    [
                        "COUNT(*)",
                        "COUNT",
                        "SUM",
                        "MIN",
                        "MAX",
                        "AVG",
                        "BOOL_OR",
                        "ARG_MAX",
                        "COUNT_DISTINCT",
                    ]
                )
                if agg == "COUNT(*)":
                    add("COUNT(*)", Col("", "int", bounded=True))
                elif agg == "COUNT":
                    col = self.column(scope, "text", "int", "num", "ts")
                    add(f"COUNT({col[0] if col else '*'})", Col("", "int", bounded=True))
                elif agg == "COUNT_DISTINCT":
                    col = self.column(scope, "text", "ts")
                    add(
                        f"COUNT(DISTINCT {col[0] if col else pid_sql})",
                        Col("", "int", bounded=True),
                    )
                elif agg == "BOOL_OR":
                    add(f"BOOL_OR({self.condition(scope, 1)})", Col("", "bool"))
                elif agg in ("MIN", "MAX") and self.p(0.4) and self.column(scope, "ts"):
                    ts = self.column(scope, "ts")
                    assert ts is not None
                    add(f"{agg}({ts[0]})", Col("", "ts"))
                elif agg == "ARG_MAX":
                    ts = self.column(scope, "ts")
                    text = self.column(scope, "text")
                    if ts and text:
                        add(f"ARG_MAX({text[0]}, {ts[0]})", Col("", "text"))
                else:
                    n, c = self.number(scope, 1)
                    add(f"{agg}({n})", replace(c, kind="num" if agg == "AVG" else c.kind))
            having = f" HAVING {self.rollup_having(scope)}" if self.p(0.2) else ""
            return (
                f"SELECT {', '.join(out)} FROM {from_sql}{where} "
                f"GROUP BY {', '.join(group)}{having}",
                Rel("", cols, True),
            )
        carried = scope.cols("text", "int", "num", "ts")
        if self.p(0.5):  # a projection may carry a sensitive or consent column as it is
            carried += scope.restricted()
        picked = st.lists(st.integers(0, len(carried) - 1), max_size=3, unique=True)
        for index in self.draw(picked) if carried else []:
            add(ref(*carried[index]), carried[index][1])
        if self.p(0.5):
            n, c = self.number(scope, 1)
            add(n, c)
        if self.p(0.25):
            add(f"CASE WHEN {self.condition(scope, 1)} THEN 'yes' ELSE 'no' END", Col("", "text"))
        qualify = ""
        if kind == "window":
            partition = [ref(*owner)]
            if nullable_plant and right:
                partition = [ref(*self.pick(right))]
            elif self.adv(0.5):
                nullable = [(r, c) for r, c in scope.pids() if c.nullable]
                if nullable:
                    partition = [ref(*self.pick(nullable))]
            if self.p(0.3):
                dim = self.column(scope, "text", "ts")
                if dim is not None:
                    partition.append(dim[0])
            ts = self.column(scope, "ts")
            order = f" ORDER BY {ts[0]}{self.pick(['', ' DESC'])}" if ts else ""
            over = f"OVER (PARTITION BY {', '.join(partition)}{order})"
            funcs = ["ROW_NUMBER", "COUNT", "SUM", "LAG", "LEAD", "RANK"]
            if nullable_plant and right:
                # a count over the NULL partition pools the unmatched rows of everyone
                add(f"COUNT(*) {over}", Col("", "int", bounded=True))
                self.planted_col = cols[-1].name
            for _ in range(self.draw(st.integers(1, 2))):
                fn = self.pick(funcs)
                if fn in ("ROW_NUMBER", "RANK"):
                    add(f"{fn}() {over}", Col("", "int", bounded=True))
                elif fn == "COUNT":
                    add(f"COUNT(*) {over}", Col("", "int", bounded=True))
                elif fn == "SUM":
                    n, c = self.number(scope, 2)
                    add(f"SUM({n}) {over}", c)
                else:
                    target = self.column(scope, "ts", "int", "num", "text")
                    if target is not None:
                        add(f"{fn}({target[0]}) {over}", replace(target[1], name=""))
            if self.p(0.4) and order:
                qualify = f" QUALIFY ROW_NUMBER() {over} = 1"
        return f"SELECT {', '.join(out)} FROM {from_sql}{where}{qualify}", Rel("", cols, True)

    def rollup_having(self, scope: Scope) -> str:
        return f"COUNT(*) {self.pick(['>=', '<', '='])} {self.pick([1, 2, 3])}"

    def cte(self) -> str:
        before = len(self.pending)
        body, rel = self.local_step(0)
        name = f"w{len(self.ctes) + 1}"
        if self.adv(0.05):
            name = self.pick(["cr_partial", "cr_capped"])  # rejected as reserved
        self.ctes[name] = rel
        if len(self.pending) < before:
            self.preferred = name
        return f"{name} AS ({body})"

    # --- the release -----------------------------------------------------------------------------
    def key(self, scope: Scope) -> str:
        consent = scope.consent()
        if consent and self.p(0.6):
            return ref(*self.pick(consent))  # a consent analysis's release key: accepted
        sensitive = scope.sensitive()
        if sensitive and ((self.purpose == FAIRNESS_PURPOSE and self.p(0.6)) or self.adv(0.15)):
            return ref(*self.pick(sensitive))  # accepted only as a fairness release's key
        choice = self.draw(st.integers(0, 7))
        dims = [(r, c) for r, c in scope.cols("text", "int") if not c.metric]
        if choice <= 2 and dims:
            return ref(*self.pick(dims))
        if choice == 3:
            ts = self.timestamp(scope, 1)
            if ts is not None:
                return (
                    f"DATE_TRUNC('{self.pick(['week', 'month'])}', {ts})"
                    if "DATE_TRUNC" not in ts
                    else ts
                )
        if choice == 4:
            n, _ = self.number(scope, 1)
            cut = self.pick([1, 5, 1000, 10000])
            default = " ELSE 'low'" if self.p(0.7) else ""
            return f"CASE WHEN {n} >= {cut} THEN 'high'{default} END"
        if choice == 5:
            counts = [(r, c) for r, c in scope.cols("int") if not c.metric and c.bounded]
            if counts:
                return f"LEAST({ref(*self.pick(counts))}, {self.pick([3, 5])})"
        if choice == 6:
            return self.condition(scope, 2)
        if self.adv(0.3):
            metric = self.column(scope, "int", "num")
            if metric is not None:
                return metric[0]  # rejected unless not a raw metric
        return self.text(scope, 2)

    def aggregate(self, scope: Scope, pid_sql: str) -> tuple[str, str]:
        """(sql, kind) of one release aggregate."""
        # A consent analysis may only count people (else consent_release), mostly it does.
        counts_only = self.consent is not None and not self.adv(0.3)
        choice = self.draw(st.integers(0, 3 if counts_only else 9))
        pids = [ref(r, c) for r, c in scope.pids()] or [pid_sql]
        if choice <= 1:
            return f"COUNT(DISTINCT {self.pick(pids)})", "count"
        if choice == 2:
            return (
                f"COUNT(DISTINCT {self.pick(pids)}) FILTER (WHERE {self.release_filter(scope)})",
                "count",
            )
        if choice == 3:
            return (
                f"COUNT(DISTINCT CASE WHEN {self.release_filter(scope)} "
                f"THEN {self.pick(pids)} END)",
                "count",
            )
        if choice == 4:
            return "COUNT(*)", "rows"
        if choice == 5:
            return f"COUNT(*) FILTER (WHERE {self.release_filter(scope)})", "rows"
        n, c = self.number(scope, 1)
        for _ in range(2):  # a bounded argument, mostly (an unbounded SUM is refused)
            if c.bounded:
                break
            n, c = self.number(scope, 1)
        if choice in (6, 7):
            return f"SUM({n})", "sum"
        if choice == 8:
            return f"SUM({n}) FILTER (WHERE {self.release_filter(scope)})", "sum"
        return f"AVG({n})", "avg"

    def release_filter(self, scope: Scope) -> str:
        if self.plant("filter_subquery") or (self.adv(0.4) and self.world.personal()):
            return self.exists(scope, 1)  # a subquery inside a release aggregate
        return self.condition(scope, 1)

    def release(self) -> str:
        self.in_release = True
        scope = Scope()
        from_sql = self.from_clause(scope, 0)
        owners = [(r, c) for r, c in scope.pids() if not c.nullable] or scope.pids()
        pid_sql = ref(*owners[0]) if owners else "pid"
        conds = [self.condition(scope, 0)] if self.p(0.45) else []
        if self.plant("corr"):
            conds.append(self.exists(scope, 1, hostile=True))
        if self.plant("arith"):
            conds.append(self.hostile_arithmetic(scope))
        if self.plant("interval"):
            conds.append(self.hostile_interval(scope))
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        items: list[str] = []
        names: list[str] = []
        keys = [self.key(scope) for _ in range(self.draw(st.integers(0, 2)))]
        consented = [ref(r, c) for r, c in scope.consent()]
        if consented and not set(consented) & set(keys) and not self.adv(0.2):
            keys.insert(0, self.pick(consented))  # a consent analysis's release key
        planted = [(r, c) for r, c in scope.cols("int") if c.name == self.planted_col]
        if planted:  # bucket the planted value: a group key every person's rows depend on
            keys.insert(
                0, f"CASE WHEN {ref(*planted[0])} > {self.pick([1, 2, 3])} THEN 'hi' ELSE 'lo' END"
            )
        for k in keys:
            name = self.name("k")
            items.append(f"{k} AS {name}")
            names.append(name)
        aggs = [self.aggregate(scope, pid_sql) for _ in range(self.draw(st.integers(1, 3)))]
        if "filter_subquery" in self.pending:
            filtered = f"FILTER (WHERE {self.release_filter(scope)})"
            aggs.append((f"COUNT(DISTINCT {pid_sql}) {filtered}", "count"))
        for sql, kind in aggs:
            name = self.name("m")
            if kind in ("sum", "avg") and self.p(0.25):
                self.bounds[name] = (0.0, float(self.pick([100, 20000])))
            items.append(f"{sql} AS {name}")
            names.append(name)
        if self.p(0.2) and len(aggs) >= 2:
            items.append(f"{aggs[0][0]} / {aggs[1][0]} AS ratio")
        if self.p(0.1):
            items.append(f"ROUND({aggs[0][0]} + 1) AS shifted")
        sql = f"SELECT {', '.join(items)} FROM {from_sql}{where}"
        if keys:
            style = self.draw(st.integers(0, 3))
            if style == 0:
                sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(keys)))
            elif style == 1:
                sql += " GROUP BY ALL"
            elif style == 2:
                sql += " GROUP BY " + ", ".join(names[: len(keys)])
            else:
                sql += " GROUP BY " + ", ".join(keys)
        if self.p(0.15):
            sql += f" HAVING {aggs[0][0]} > {self.pick([0, 10, 100])}"
        if self.p(0.2):
            sql += f" ORDER BY {self.pick(names)}{self.pick(['', ' DESC'])}"
        if self.p(0.15):
            sql += f" LIMIT {self.pick([1, 5, 10])}"
        return sql


@st.composite
def templates(
    draw: st.DrawFn, world: World, adversarial: float | None = None, consent: bool | None = None
) -> Case:
    """A template of ``world``; ``adversarial`` is the rate of adversarial branches (drawn when
    None: from none at all to often); ``consent`` makes it a consent analysis whenever the world
    has a dataset with consent for the purpose (True), never (False) or one time in six (None)."""
    rate = adversarial if adversarial is not None else draw(st.sampled_from([0.0, 0.15, 0.3, 0.6]))
    count = (
        draw(st.sampled_from([0, 0, 1, 1, 1, 2])) if adversarial is None or adversarial > 0 else 0
    )
    plants = frozenset(draw(st.lists(st.sampled_from(PLANTS), min_size=count, max_size=count)))
    purpose = "measurement"
    if FAIRNESS_PURPOSE in world.policy.purposes and draw(st.integers(0, 9)) == 0:
        purpose = FAIRNESS_PURPOSE
    elif draw(st.integers(0, 19)) == 0:
        purpose = draw(st.sampled_from(list(world.policy.purposes)))
    # A consent analysis, now and then: a personal dataset with consent for the purpose.
    consenting = sorted(
        name
        for name, spec in world.datasets.items()
        if spec.is_personal and spec.consent_column(purpose) is not None
    )
    analysis = consent if consent is not None else draw(st.integers(0, 5)) == 0
    dataset = draw(st.sampled_from(consenting)) if consenting and analysis else None
    g = Gen(draw, world, rate, plants, purpose, dataset)
    needs_cte = bool(plants & {"nullable_window", "nullable_group"})
    ctes = [g.cte() for _ in range(draw(st.integers(1 if needs_cte else 0, 2)))]
    body = g.release()
    sql = (f"WITH {', '.join(ctes)} " if ctes else "") + body
    # "grammar" alone: a plain template (no adversarial branch could be taken, nothing planted)
    label = "grammar"
    if rate:
        label += f" (adversarial rate {rate})"
    if plants:
        label += f" (planted: {', '.join(sorted(plants - g.pending))})"
    if dataset is not None:
        if g.adv(0.1):  # ``consented`` without the header: refused wherever it is read
            dataset = None
            label += " (consented without its header)"
        else:
            label += f" (consent: {dataset})"
    return Case(sql, tuple(g.params), {}, dict(g.bounds), purpose, label, dataset)


@st.composite
def estimate_lines(draw: st.DrawFn, outputs: tuple[str, ...] = ("sales",)) -> tuple[str, bool]:
    """An ``-- estimate:`` header line and whether its syntax is valid (quantile in (0.5, 1),
    share in (0, 0.5], three fields): well-formed lines, out-of-range numbers, junk fields."""
    output = draw(st.sampled_from(outputs))
    quantile = draw(
        st.one_of(
            st.floats(0.501, 0.999),
            st.sampled_from([0.5, 1.0, 0.0, -0.9, 1.5, math.nan, math.inf]),
        )
    )
    share = draw(
        st.one_of(
            st.floats(0.001, 0.5),
            st.sampled_from([0.0, -0.1, 0.51, 1.0, math.nan, math.inf]),
        )
    )
    fields = [output, repr(quantile), repr(share)]
    shape = draw(st.integers(0, 9))
    if shape == 0:
        fields = fields[:2]
    elif shape == 1:
        fields.append("extra")
    elif shape == 2:
        fields[1] = "high"
    valid = len(fields) == 3 and 0.5 < quantile < 1 and 0 < share <= 0.5 and shape != 2
    return f"-- estimate: {' '.join(fields)}", valid
