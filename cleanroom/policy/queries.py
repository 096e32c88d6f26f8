"""Person-local analysis of SELECTs, FROM items, joins, CTEs and subqueries.

>>> from sqlglot import parse_one
>>> from cleanroom.policy.violations import ViolationCollector
>>> from cleanroom.types import DatasetSpec
>>> spec = DatasetSpec.from_dict({"name": "t", "kind": "personal", "purposes": ["measurement"],
...     "columns": {"email": {"role": "identifier"}, "brand": {"role": "dimension"}}})
>>> c = ViolationCollector("")
>>> rel = QueryChecker(c, {"t": spec}, {}).local_select(
...     parse_one("SELECT pid, brand FROM t ORDER BY brand"), None, {}, "local")
>>> [v.code for v in c.violations]
['row_selection_across_people']
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import replace

from sqlglot import exp

from cleanroom.policy.expressions import Context, ExpressionChecker
from cleanroom.policy.functions import contains_aggregate
from cleanroom.policy.scope import Relation, Resolved, Scope, Source, dataset_relation, resolve
from cleanroom.policy.values import Interval, Val, intersect, merge
from cleanroom.policy.violations import ViolationCollector
from cleanroom.types import RESERVED_PREFIX, DatasetSpec, is_reserved_name

ALLOWED_SELECT_ARGS = frozenset(
    {
        "with_",
        "expressions",
        "from_",
        "joins",
        "where",
        "group",
        "having",
        "qualify",
        "order",
        "limit",
        "offset",
        "distinct",
        "kind",
    }
)
ALLOWED_TABLE_ARGS = frozenset({"this", "alias", "db", "catalog", "sample"})
_PATH_HINTS = ("/", "\\", ".", ":", "~", "*")


def _reserved_message() -> str:
    return f"names starting with {RESERVED_PREFIX} are reserved for the rewrite and the engine"


def conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    if node is None:
        return []
    if isinstance(node, exp.And):
        return conjuncts(node.this) + conjuncts(node.expression)
    if isinstance(node, exp.Paren):
        return conjuncts(node.this)
    return [node]


class QueryChecker(ExpressionChecker):
    """Checks queries below the release; records dataset references for the rewrite."""

    def __init__(
        self,
        collector: ViolationCollector,
        datasets: Mapping[str, DatasetSpec],
        declared: Mapping[str, Interval],
        in_domains: Mapping[int, tuple[object, ...]] | None = None,
        consent: str | None = None,
    ) -> None:
        super().__init__(collector)
        self.datasets = datasets
        self.consent = consent  # a consent analysis's dataset (its references carry CONSENTED)
        self.declared = declared
        self.in_domains = dict(in_domains or {})
        self.dataset_tables: list[tuple[exp.Table, DatasetSpec]] = []
        self.used_bounds: set[str] = set()
        self.asof = False
        self._counter = itertools.count(1)
        self.subquery_hook = self._subquery
        self.current_ctes: dict[str, Relation] = {}

    # --- structure -----------------------------------------------------------------------------
    def check_user_name(self, name: str, node: exp.Expr) -> None:
        """Every name a template chooses (alias, CTE, column list) stays out of the namespace
        the rewrite and the engine use."""
        if is_reserved_name(name):
            self.flag("reserved_name", node, _reserved_message())

    def check_output_names(self, select: exp.Select) -> None:
        for item in select.expressions:
            if isinstance(item, exp.Alias):
                self.check_user_name(item.alias, item)

    def check_select_args(self, select: exp.Select, personal_rows: bool | None = None) -> None:
        for key, value in select.args.items():
            if value and key not in ALLOWED_SELECT_ARGS:
                shown = value if isinstance(value, exp.Expr) else select
                self.flag("forbidden_syntax", shown, f"'{key}' clauses are not allowed")

    def check_ctes(self, select: exp.Select, ctes: dict[str, Relation]) -> dict[str, Relation]:
        with_ = select.args.get("with_")
        if with_ is None:
            return ctes
        if with_.args.get("recursive"):
            self.flag("forbidden_syntax", with_, "recursive CTEs are not allowed")
        env = dict(ctes)
        for cte in with_.expressions:
            name = cte.alias.lower()
            self.check_user_name(name, cte)
            body = cte.this
            if not isinstance(body, exp.Select):
                code = "set_operation" if isinstance(body, exp.SetOperation) else "not_select"
                self.flag(code, body, "a CTE must be one SELECT")
                env[name] = Relation({}, True)
                continue
            relation = self.local_select(body, None, env, "local")
            env[name] = self._rename(relation, cte.args.get("alias"), cte)
        return env

    def _rename(self, relation: Relation, alias: exp.Expr | None, node: exp.Expr) -> Relation:
        columns = alias.args.get("columns") if isinstance(alias, exp.TableAlias) else None
        if not columns:
            return relation
        for column in columns:
            self.check_user_name(column.name, column)
        if len(columns) != len(relation.columns):
            self.flag("forbidden_syntax", node, "the column list must name every column")
            return relation
        renamed = {
            c.name.lower(): v for c, v in zip(columns, relation.columns.values(), strict=True)
        }
        return Relation(
            renamed, relation.personal, relation.datasets, relation.row_cap, {}, relation.asof
        )

    # --- FROM ----------------------------------------------------------------------------------
    def from_scope(
        self, select: exp.Select, parent: Scope | None, ctes: dict[str, Relation]
    ) -> Scope:
        scope = Scope(parent=parent)
        from_ = select.args.get("from_")
        if from_ is None:
            return scope
        self.add_source(scope, from_.this, ctes)
        for join in select.args.get("joins") or []:
            self.join(scope, join, ctes)
        return scope

    def add_source(self, scope: Scope, node: exp.Expr, ctes: dict[str, Relation]) -> str | None:
        relation: Relation | None = None
        if isinstance(node, exp.Table):
            relation = self.table(node, ctes)
            alias = (node.alias or node.name).lower()
        elif isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select):
            if node.args.get("sample"):
                self.flag(
                    "row_selection_across_people", node, "TABLESAMPLE picks rows across people"
                )
            relation = self.local_select(node.this, None, ctes, "local")
            relation = self._rename(relation, node.args.get("alias"), node)
            alias = node.alias.lower()
            self.check_user_name(alias, node)
            if not alias:
                # The rewrite needs every FROM item named; users cannot spell this name.
                alias = f"{RESERVED_PREFIX}sub{next(self._counter)}"
                node.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
        elif isinstance(node, exp.Subquery) and isinstance(node.this, exp.SetOperation):
            self.flag("set_operation", node.this, "UNION, INTERSECT and EXCEPT are not allowed")
            return None
        else:
            self.flag("table_function", node, "FROM takes dataset names, CTEs or subqueries only")
            return None
        if relation is None:
            return None
        if alias in scope.sources:
            self.flag("duplicate_alias", node, f"the alias '{alias}' is used twice")
        if isinstance(node, exp.Table):
            self.check_user_name(alias, node)
        scope.sources[alias] = Source(alias, relation)
        return alias

    def table(self, node: exp.Table, ctes: dict[str, Relation]) -> Relation | None:
        if not isinstance(node.this, exp.Identifier):
            self.flag("table_function", node, "table functions are not allowed")
            return None
        for key, value in node.args.items():
            if value and key not in ALLOWED_TABLE_ARGS:
                self.flag("forbidden_syntax", node, f"'{key}' on a table is not allowed")
        alias = node.args.get("alias")
        if isinstance(alias, exp.TableAlias) and alias.args.get("columns"):
            for column in alias.args["columns"]:
                self.check_user_name(column.name, column)
            # The rewrite replaces the table by its wrapper; renaming its columns positionally
            # is not carried over, so it is refused rather than silently meaning something else.
            self.flag(
                "forbidden_syntax",
                alias,
                "column lists on a table alias are not allowed; rename columns in a subquery",
            )
        if node.args.get("db") or node.args.get("catalog"):
            self.flag("qualified_table", node, "use plain dataset names (no schema or catalog)")
            return None
        if node.args.get("sample"):
            self.flag("row_selection_across_people", node, "TABLESAMPLE picks rows across people")
        name = node.name.lower()
        if is_reserved_name(name):
            self.flag("reserved_name", node, _reserved_message())
            return None
        if name in ctes:
            return ctes[name]
        spec = self.datasets.get(name)
        if spec is not None:
            self.dataset_tables.append((node, spec))
            return dataset_relation(spec, dict(self.declared), consented=spec.name == self.consent)
        if any(h in node.name for h in _PATH_HINTS):
            self.flag("file_path", node, "files cannot be read; use the collaboration's datasets")
        else:
            self.flag(
                "unknown_table", node, f"'{node.name}' is not a dataset of this collaboration"
            )
        return None

    def join(self, scope: Scope, join: exp.Join, ctes: dict[str, Relation]) -> None:
        method = str(join.args.get("method") or "").upper()
        side = str(join.args.get("side") or "").upper()
        kind = str(join.args.get("kind") or "").upper()
        if (
            method in ("NATURAL", "POSITIONAL")
            or kind in ("SEMI", "ANTI")
            or side in ("RIGHT", "FULL")
        ):
            label = " ".join(x for x in (method, side, kind) if x)
            self.flag(
                "forbidden_join",
                join,
                f"{label} JOIN is not allowed; use INNER, LEFT or ASOF with pid equality "
                "(or EXISTS)",
            )
            return
        if kind == "CROSS":
            self.flag("cross_join", join, "cross joins are not allowed")
            return
        if isinstance(join.this, exp.Lateral | exp.Unnest):
            self.flag("forbidden_join", join, "LATERAL joins are not allowed")
            return
        left_personal = scope.personal
        earlier = set(scope.sources)
        alias = self.add_source(scope, join.this, ctes)
        if alias is None:
            return
        relation = scope.sources[alias].relation
        if side == "LEFT":
            # The null-supplying side: its person keys are NULL on unmatched rows.
            relation = relation.null_supplying()
            scope.sources[alias] = Source(alias, relation)
        on, using = join.args.get("on"), join.args.get("using")
        if on is None and not using:
            self.flag(
                "cross_join", join, "a join needs an ON condition (comma joins are cross joins)"
            )
            return
        if method == "ASOF":
            self.asof = True
        pid_equality = False
        for ident in using or []:
            name = ident.name.lower()
            both = [s for s in scope.sources.values() if name in s.relation.columns]
            left = [s for s in both if s.alias in earlier]
            if len(both) < 2 or not left:
                self.flag("unknown_column", ident, f"USING column '{name}' is not on both sides")
            elif len(left) > 1 and name not in scope.using:
                # Two earlier sources with the column, not merged by an earlier USING: the
                # engine cannot tell which one the join means (it would fail on every run).
                which = ", ".join(sorted(s.alias for s in left))
                self.flag(
                    "ambiguous_column",
                    ident,
                    f"USING ({name}) is ambiguous: {which} all have '{name}'; "
                    f"write ON with qualified columns instead",
                )
            elif any(s.relation.columns[name].sensitive for s in both):
                self.flag(
                    "sensitive_column", ident, f"column '{name}' is sensitive: no join may use it"
                )
            elif any(s.relation.columns[name].consent for s in both):
                self.flag(
                    "consent_column", ident, f"column '{name}' is consent: no join may use it"
                )
            elif relation.columns[name].pid:
                pid_equality = True
            scope.using.add(name)
        if on is not None:
            self.condition(on, Context(scope))
            pid_equality = pid_equality or self._has_pid_equality(on, scope, alias, earlier)
        if left_personal and relation.personal and not pid_equality:
            self.flag("join_without_pid", join, "joins between personal data need ON a.pid = b.pid")
        if left_personal != relation.personal:
            self._check_reference_join(join, scope, using or [])

    def _check_reference_join(self, join: exp.Join, scope: Scope, using: list[exp.Expr]) -> None:
        """Personal data meets reference data (whose contents a partner may choose) on dimension
        columns only: matching on a personal metric would let the reference table's columns act
        as a function of that metric, e.g. as a group key. ``ON`` conditions (and every other
        comparison) are checked where they are evaluated (``compare_kinds``); this is USING."""
        names = [ident.name.lower() for ident in using]
        for source in scope.sources.values():
            if not source.relation.personal:
                continue
            for name in names:
                val = source.relation.columns.get(name)
                if val is not None and not val.pid and not val.groupable:
                    self.flag("reference_join_on_metric", join, _REFERENCE_JOIN)

    def _has_pid_equality(self, on: exp.Expr, scope: Scope, alias: str, earlier: set[str]) -> bool:
        for conj in conjuncts(on):
            if not isinstance(conj, exp.EQ):
                continue
            sides = [conj.this, conj.expression]
            if not all(isinstance(s, exp.Column) for s in sides):
                continue
            tables = {s.table.lower() for s in sides}
            if alias not in tables or not tables & earlier:
                continue
            if all(self._is_pid(scope, s) for s in sides):
                return True
        return False

    @staticmethod
    def _is_pid(scope: Scope, column: exp.Column) -> bool:
        source = scope.sources.get(column.table.lower())
        val = source.relation.columns.get(column.name.lower()) if source else None
        return bool(val and val.pid)

    @staticmethod
    def pid_equalities(select: exp.Select, scope: Scope) -> list[tuple[Resolved, Resolved]]:
        """The ``a.pid = b.pid`` conditions that are top-level conjuncts of ``select``'s own
        WHERE, resolved in ``scope`` (person keys, owner or nullable, on both sides)."""
        where = select.args.get("where")
        pairs: list[tuple[Resolved, Resolved]] = []
        for conj in conjuncts(where.this if where is not None else None):
            if not isinstance(conj, exp.EQ):
                continue
            sides = [conj.this, conj.expression]
            if not all(isinstance(s, exp.Column) for s in sides):
                continue
            left, right = (resolve(scope, s.table.lower(), s.name.lower()) for s in sides)
            if (
                isinstance(left, Resolved)
                and isinstance(right, Resolved)
                and left.val.pid
                and right.val.pid
            ):
                pairs.append((left, right))
        return pairs

    @classmethod
    def correlated_on_owner(cls, select: exp.Select, scope: Scope) -> bool:
        """Is ``inner_owner = outer_owner`` a top-level conjunct of ``select``'s own WHERE?

        Only then does every row the subquery reads belong to the outer row's person: under
        OR, NOT, CASE or a function, or in the select list, the comparison restricts nothing.
        """
        return any(
            a.val.owner and b.val.owner and a.outer != b.outer
            for a, b in cls.pid_equalities(select, scope)
        )

    # --- WHERE ---------------------------------------------------------------------------------
    def where(self, select: exp.Select, scope: Scope) -> None:
        where = select.args.get("where")
        if where is None:
            return
        self.condition(where.this, Context(scope, row_cap=self.row_cap(scope)))
        for conj in conjuncts(where.this):
            values = self.in_domains.get(id(conj))
            if (
                values is not None
                and isinstance(conj, exp.In)
                and isinstance(conj.this, exp.Column)
            ):
                scope.domains[(conj.this.table.lower(), conj.this.name.lower())] = values

    @staticmethod
    def row_cap(scope: Scope) -> float | None:
        caps: list[float] = []
        for source in scope.sources.values():
            if not source.relation.personal or source.relation.row_cap is None:
                return None
            caps.append(source.relation.row_cap)
        product = math.prod(caps) if caps else None
        return product if product is None or math.isfinite(product) else None

    # --- person-local SELECT -------------------------------------------------------------------
    def local_select(
        self, select: exp.Select, parent: Scope | None, ctes: dict[str, Relation], role: str
    ) -> Relation:
        self.check_select_args(select)
        ctes = self.check_ctes(select, ctes)
        saved, self.current_ctes = self.current_ctes, ctes
        try:
            return self._local_select(select, parent, ctes, role)
        finally:
            self.current_ctes = saved

    def _local_select(
        self, select: exp.Select, parent: Scope | None, ctes: dict[str, Relation], role: str
    ) -> Relation:
        scope = self.from_scope(select, parent, ctes)
        self.where(select, scope)
        cap = self.row_cap(scope)
        having = select.args.get("having")
        grouped = (
            select.args.get("group") is not None
            or having is not None
            or any(contains_aggregate(e) for e in select.expressions)
        )
        ctx = Context(scope, aggregates=grouped, windows=role == "local", row_cap=cap)
        columns: dict[str, Val] = {}
        ambiguous: set[str] = set()
        item_vals: list[Val] = []
        self.check_output_names(select)
        # A CTE or derived table may carry a sensitive or consent column as it is (no subquery
        # may).
        carried = role not in ("exists", "in", "scalar")
        carry = replace(ctx, sensitive_ok=carried, consent_ok=carried)
        for item in select.expressions:
            expr = item.unalias() if isinstance(item, exp.Alias) else item
            val = self.eval(expr, carry if isinstance(expr, exp.Column) else ctx)
            if val.pid and not isinstance(expr, exp.Column | exp.Paren):
                self.flag("pid_misuse", item, "pid may only be carried as a plain column")
            name = item.alias_or_name.lower()
            if name in self.declared:
                self.used_bounds.add(name)
                val = val.with_(bounds=intersect(val.bounds, self.declared[name]))
            if name in columns:
                ambiguous.add(name)
            columns[name] = val
            item_vals.append(val)
        per_person = self._groups_by_pid(select, scope, item_vals, cap)
        if scope.personal:
            if grouped and not per_person:
                self.flag(
                    "aggregate_across_people",
                    select.args.get("group") or select,
                    "a step before the release may aggregate only per person (GROUP BY pid)",
                )
            distinct = select.args.get("distinct")
            # DISTINCT over a projection that carries the row owner's key deduplicates within
            # one person (like GROUP BY pid); without it, it merges people.
            if (
                distinct is not None
                and not distinct.args.get("on")
                and any(v.owner for v in item_vals)
            ):
                distinct = None
            for key in ("distinct", "order", "limit", "offset"):
                if key == "distinct" and distinct is None:
                    continue
                if select.args.get(key):
                    self.flag(
                        "row_selection_across_people",
                        select.args[key],
                        f"{key.upper()} before the release picks rows across people",
                    )
        if having is not None:
            self.condition(having.this, ctx)
        qualify = select.args.get("qualify")
        if qualify is not None:
            self.condition(qualify.this, Context(scope, windows=True, row_cap=cap))
        self._check_subquery_role(select, scope, role, len(columns))
        relation = Relation(columns, scope.personal, scope.datasets, cap)
        relation.ambiguous = frozenset(ambiguous)
        relation.outer_reads = tuple(scope.outer_vals)
        relation.first = item_vals[0] if item_vals else None
        return relation

    def _groups_by_pid(
        self, select: exp.Select, scope: Scope, item_vals: list[Val], cap: float | None
    ) -> bool:
        group = select.args.get("group")
        if group is None:
            return False
        keys: list[Val] = []
        if group.args.get("all"):
            keys = [v for v in item_vals if not v.aggregate]
        for item in group.expressions:
            if isinstance(item, exp.Literal) and item.is_int:
                index = int(item.this) - 1
                if 0 <= index < len(item_vals):
                    keys.append(item_vals[index])
                continue
            if (
                isinstance(item, exp.Column)
                and not item.table
                and item.name.lower() in {e.alias.lower() for e in select.expressions if e.alias}
                and not any(item.name.lower() in s.relation.columns for s in scope.sources.values())
            ):
                index = [e.alias.lower() for e in select.expressions].index(item.name.lower())
                keys.append(item_vals[index])
                continue
            keys.append(self.eval(item, Context(scope, row_cap=cap)))
        if any(v.sensitive for v in keys):
            self.flag(
                "sensitive_column",
                group,
                "a step before the release cannot group by a sensitive column; only a fairness "
                "analysis's release may",
            )
        if any(v.consent for v in keys):
            self.flag(
                "consent_column",
                group,
                "a step before the release cannot group by the consent column; only the "
                "release of a consent analysis may",
            )
        if any(v.owner for v in keys):
            return True
        if scope.personal and any(v.pid for v in keys):
            self.flag(
                "nullable_person_key",
                group,
                "this pid is NULL for unmatched rows of a LEFT or ASOF join and would pool them "
                "into one group; GROUP BY the pid of the join's left side",
            )
            return True  # reported once, not again as an aggregate across people
        return False

    def _check_subquery_role(self, select: exp.Select, scope: Scope, role: str, width: int) -> None:
        if role in ("scalar", "in") and scope.personal:
            self.flag(
                "uncorrelated_subquery",
                select,
                "subqueries over personal data must be EXISTS / NOT EXISTS correlated on pid",
            )
        if role == "exists" and scope.personal:
            if self._nullable_correlation(select, scope):
                self.flag(
                    "nullable_person_key",
                    select,
                    "EXISTS is correlated on a pid that is NULL for unmatched rows of a LEFT or "
                    "ASOF join; correlate on the pid of the join's left side",
                )
            elif not self.correlated_on_owner(select, scope):
                self.flag(
                    "uncorrelated_subquery",
                    select,
                    "EXISTS over personal data must be correlated on pid: "
                    "WHERE x.pid = outer.pid as a condition of its own WHERE, joined by AND",
                )
        if role in ("in", "scalar") and width != 1:
            self.flag("forbidden_syntax", select, "this subquery selects exactly one column")
        if role == "scalar" and not _one_row(select):
            self.flag(
                "scalar_subquery_rows",
                select,
                "a scalar subquery must return at most one row whatever the data: aggregate "
                "without GROUP BY (e.g. MAX(x)) or add LIMIT 1",
            )

    @classmethod
    def _nullable_correlation(cls, select: exp.Select, scope: Scope) -> bool:
        return any(not (a.val.owner and b.val.owner) for a, b in cls.pid_equalities(select, scope))

    def _subquery(self, node: exp.Expr, ctx: Context, kind: str) -> Val:
        if not isinstance(node, exp.Select):
            code = "set_operation" if isinstance(node, exp.SetOperation) else "forbidden_syntax"
            self.flag(code, node, "a subquery must be one SELECT")
            return Val(groupable=False)
        relation = self.local_select(node, ctx.scope, self.current_ctes, kind)
        # What the subquery's value depends on, as far as the outer query is concerned.
        reads = merge(*relation.outer_reads) if relation.outer_reads else Val()
        first = relation.first or Val()
        return reads.with_(
            kind=first.kind,
            reference=reads.reference or first.reference,
            literal=False,
            aggregate=False,
        )


_REFERENCE_JOIN = (
    "joins between personal and reference data must match on dimension columns, "
    "not on a personal metric"
)


def _one_row(select: exp.Select) -> bool:
    """Does ``select`` return at most one row on every input?"""
    limit = select.args.get("limit")
    if limit is not None:
        value = limit.expression
        if isinstance(value, exp.Literal) and value.is_int and int(value.this) <= 1:
            return True
    if select.args.get("group") is not None:
        return False
    return any(contains_aggregate(e) for e in select.expressions)
