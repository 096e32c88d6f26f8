"""The release: group keys, allowed aggregates with per-person bounds, post-noise outputs.

>>> RELEASE_OPS[exp.Div], RELEASE_OPS[exp.GTE]
('/', '>=')
"""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp

from cleanroom.plan import Col, Lit, Op, OrderItem, Output, PostExpr
from cleanroom.policy.expressions import Context
from cleanroom.policy.functions import contains_aggregate
from cleanroom.policy.measures import measure_aggregate
from cleanroom.policy.queries import QueryChecker
from cleanroom.policy.release_spec import KeySpec, MeasurementSpec, ReleaseSpec
from cleanroom.policy.values import Val, intersect
from cleanroom.specs import CollaborationPolicy

__all__ = ["KeySpec", "MeasurementSpec", "ReleaseChecker", "ReleaseSpec"]

RELEASE_OPS: dict[type[exp.Expr], str] = {
    exp.Add: "+",
    exp.Sub: "-",
    exp.Mul: "*",
    exp.Div: "/",
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.And: "and",
    exp.Or: "or",
}
RELEASE_FUNCS: dict[type[exp.Expr], str] = {
    exp.Round: "round",
    exp.Floor: "floor",
    exp.Ceil: "ceil",
    exp.Abs: "abs",
    exp.Coalesce: "coalesce",
    exp.Nullif: "nullif",
    exp.Least: "least",
    exp.Greatest: "greatest",
}


class ReleaseChecker:
    """Analyzes the outermost SELECT of a template (after the person-local checks)."""

    def __init__(
        self, checker: QueryChecker, policy: CollaborationPolicy, *, fairness: bool = False
    ) -> None:
        self.q = checker
        self.policy = policy
        # A fairness analysis (purpose: fairness) may group its release by a sensitive column.
        self.fairness = fairness
        self._by_sql: dict[str, PostExpr] = {}
        self._names: set[str] = set()
        self._key_sql: dict[str, str] = {}

    def analyze(self, select: exp.Select) -> ReleaseSpec | None:
        q = self.q
        q.check_select_args(select)
        q.check_output_names(select)
        ctes = q.check_ctes(select, {})
        q.current_ctes = ctes
        scope = q.from_scope(select, None, ctes)
        q.where(select, scope)
        for key, code in (
            ("distinct", "select_distinct_release"),
            ("qualify", "forbidden_syntax"),
            ("offset", "forbidden_syntax"),
        ):
            if select.args.get(key):
                q.flag(code, select.args[key], f"{key.upper()} is not allowed in the release")
        if not scope.personal:
            q.flag("no_personal_dataset", select, "the release must aggregate personal data")
            return None
        pid = scope.first_pid()
        if pid is None:
            q.flag("pid_not_carried", select, "the release's FROM must carry pid")
            return None
        self.ctx = Context(scope, row_cap=q.row_cap(scope))
        # For a plain column key. A consent analysis's ``consented`` (the only consent column,
        # and only in such an analysis) may be a release key under any purpose.
        self.key_ctx = replace(self.ctx, sensitive_ok=self.fairness, consent_ok=True)
        spec = ReleaseSpec(scope, pid)
        self.spec = spec
        self._keys(select)
        for index, item in enumerate(select.expressions):
            self._output(index, item)
        having = select.args.get("having")
        if having is not None:
            spec.having = self.post(having.this, None)
        self._order_and_limit(select)
        self._person_count()
        return spec

    # --- group keys -----------------------------------------------------------------------------
    def _keys(self, select: exp.Select) -> None:
        group = select.args.get("group")
        items = select.expressions
        chosen: list[tuple[exp.Expr, int | None]] = []
        if group is not None and group.args.get("all"):
            chosen = [(it, i) for i, it in enumerate(items) if not contains_aggregate(it)]
        elif group is not None:
            aliases = {it.alias.lower(): i for i, it in enumerate(items) if it.alias}
            source_cols = {c for s in self.spec.scope.sources.values() for c in s.relation.columns}
            for g in group.expressions:
                if isinstance(g, exp.Literal) and g.is_int:
                    index = int(g.this) - 1
                    if not 0 <= index < len(items):
                        self.q.flag("forbidden_syntax", g, "GROUP BY position out of range")
                        continue
                    chosen.append((items[index], index))
                elif (
                    isinstance(g, exp.Column)
                    and not g.table
                    and g.name.lower() in aliases
                    and g.name.lower() not in source_cols
                ):
                    chosen.append((items[aliases[g.name.lower()]], aliases[g.name.lower()]))
                else:
                    chosen.append((g, None))
        self._key_index: dict[int, str] = {}
        for number, (node, position) in enumerate(chosen):
            expr = node.unalias() if isinstance(node, exp.Alias) else node
            if contains_aggregate(expr):
                self.q.flag("forbidden_syntax", node, "aggregates cannot be group keys")
                continue
            val = self.q.eval(expr, self.key_ctx if isinstance(expr, exp.Column) else self.ctx)
            self._check_key(expr, val)
            sql = expr.sql("duckdb")
            if sql in self._key_sql:
                continue
            if position is None:
                position = next(
                    (
                        i
                        for i, it in enumerate(select.expressions)
                        if not contains_aggregate(it)
                        and (it.unalias() if isinstance(it, exp.Alias) else it).sql("duckdb") == sql
                    ),
                    None,
                )
            name = (
                select.expressions[position].alias_or_name.lower() if position is not None else ""
            )
            name = self._unique(name or f"cr_key{number}")
            if position is not None:
                self._key_index[position] = name
            self._key_sql[sql] = name
            self.spec.keys.append(KeySpec(name, expr, val.domain, val.kind, val.integer))
            if val.consent and isinstance(expr, exp.Column):
                self.spec.consent_key = name

    def _check_key(self, expr: exp.Expr, val: Val) -> None:
        if val.pid:
            self.q.flag("pid_misuse", expr, "the release cannot group by pid (per-person rows)")
        elif not val.groupable:
            self.q.flag(
                "metric_as_group_key",
                expr,
                "raw metric values cannot be group keys; bucket them with CASE",
            )

    def _unique(self, name: str) -> str:
        base, n = name, 1
        while name in self._names:
            n += 1
            name = f"{base}_{n}"
        self._names.add(name)
        return name

    # --- outputs --------------------------------------------------------------------------------
    def _output(self, index: int, item: exp.Expr) -> None:
        name = item.alias_or_name.lower() or f"col{index + 1}"
        if index in self._key_index:
            key = self._key_index[index]
            self.spec.outputs.append(Output(key, Col(key), True))
            return
        expr = item.unalias() if isinstance(item, exp.Alias) else item
        direct = isinstance(expr, exp.AggFunc | exp.Filter | exp.IgnoreNulls)
        post = self.post(expr, name if direct else None)
        # A group key selected under another spelling (e.g. GROUP BY a qualified column) is
        # still a key, not a noisy output: it carries no interval.
        keys = {k.name for k in self.spec.keys}
        is_key = isinstance(post, Col) and post.name in keys
        self.spec.outputs.append(Output(self._unique(name) if not direct else name, post, is_key))

    def post(self, node: exp.Expr, out_name: str | None) -> PostExpr:
        """Translate a release expression over keys and aggregates into a post-noise PostExpr."""
        if isinstance(node, exp.Paren):
            return self.post(node.this, out_name)
        if isinstance(node, exp.Literal):
            return Lit(
                node.this
                if node.is_string
                else float(node.this)
                if "." in node.this or "e" in node.this.lower()
                else int(node.this)
            )
        if isinstance(node, exp.Boolean):
            return Lit(bool(node.this))
        if isinstance(node, exp.Null):
            return Lit(None)
        if isinstance(node, exp.AggFunc | exp.Filter | exp.IgnoreNulls):
            return self.measure(node, out_name)
        if not contains_aggregate(node):
            if isinstance(node, exp.Column) and not node.table and node.name.lower() in self._names:
                return Col(node.name.lower())
            self.q.eval(node, self.key_ctx if isinstance(node, exp.Column) else self.ctx)
            key = self._key_sql.get(node.sql("duckdb"))
            if key is not None:
                return Col(key)
            if isinstance(node, exp.Column):
                self.q.flag("ungrouped_column", node, "columns in the release must be group keys")
                return Lit(None)
        if type(node) in RELEASE_OPS:
            return Op(
                RELEASE_OPS[type(node)],
                (self.post(node.this, None), self.post(node.expression, None)),
            )
        if isinstance(node, exp.Neg):
            return Op("neg", (self.post(node.this, None),))
        if isinstance(node, exp.Not):
            return Op("not", (self.post(node.this, None),))
        if type(node) in RELEASE_FUNCS:
            args = tuple(self.post(a, None) for a in node.iter_expressions())
            return Op(RELEASE_FUNCS[type(node)], args)
        if isinstance(node, exp.Cast) and node.to.this in exp.DataType.NUMERIC_TYPES:
            return self.post(node.this, out_name)
        if not contains_aggregate(node):
            self.q.flag(
                "ungrouped_column", node, "release expressions must be group keys or aggregates"
            )
        else:
            self.q.flag(
                "forbidden_syntax", node, "this expression is not allowed over released values"
            )
        return Lit(None)

    def measure(self, node: exp.Expr, out_name: str | None) -> PostExpr:
        return measure_aggregate(self, node, out_name)

    def _order_and_limit(self, select: exp.Select) -> None:
        order = select.args.get("order")
        by_name = {o.name: o.expr for o in self.spec.outputs}
        for ordered in order.expressions if order is not None else []:
            target = ordered.this
            if isinstance(target, exp.Literal) and target.is_int:
                index = int(target.this) - 1
                if 0 <= index < len(self.spec.outputs):
                    expr = self.spec.outputs[index].expr
                else:
                    self.q.flag("forbidden_syntax", target, "ORDER BY position out of range")
                    continue
            elif (
                isinstance(target, exp.Column)
                and not target.table
                and target.name.lower() in by_name
            ):
                expr = by_name[target.name.lower()]
            else:
                expr = self.post(target, None)
            self.spec.order_by.append(OrderItem(expr, bool(ordered.args.get("desc"))))
        limit = select.args.get("limit")
        if limit is not None:
            value = limit.expression
            if isinstance(value, exp.Literal) and value.is_int and int(value.this) >= 0:
                self.spec.limit = int(value.this)
            else:
                self.q.flag("forbidden_syntax", limit, "LIMIT takes a non-negative integer literal")

    def _person_count(self) -> None:
        spec = self.spec
        found = next(
            (m for m in spec.measurements if m.kind == "person_count" and m.unconditional), None
        )
        if found is not None:
            spec.person_count = found.column
            return
        alias, column = spec.pid
        partial = exp.Count(this=exp.Distinct(expressions=[exp.column(column, table=alias)]))
        name = self._unique("cr_persons")
        spec.measurements.append(
            MeasurementSpec(name, "person_count", 0, 1, True, partial.copy, True)
        )
        spec.person_count = name
        spec.added_person_count = True

    def declared_bounds(self, name: str | None, val: Val) -> Val:
        if name and name in self.q.declared:
            self.q.used_bounds.add(name)
            return val.with_(bounds=intersect(val.bounds, self.q.declared[name]))
        return val
