"""Relations (what a FROM item yields) and scopes (how a column name resolves).

Column names resolve case-insensitively, quoted or not, as DuckDB does.

>>> from cleanroom.specs import DatasetSpec
>>> spec = DatasetSpec.from_dict({"name": "t", "kind": "personal", "purposes": ["measurement"],
...     "columns": {"email": {"role": "identifier"}, "brand": {"role": "dimension"}}})
>>> rel = dataset_relation(spec, {})
>>> sorted(rel.columns), rel.hidden["email"]
(['brand', 'pid'], 'identifier')
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cleanroom.names import CONSENTED, PID
from cleanroom.policy.values import BOOL, NUMBER, TEXT, TIME, Interval, Val
from cleanroom.specs import DatasetSpec


@dataclass
class Relation:
    """The columns a FROM item yields and whether its rows belong to people."""

    columns: dict[str, Val]
    personal: bool = False
    datasets: frozenset[str] = frozenset()
    row_cap: float | None = None  # rows per person, when known
    hidden: dict[str, str] = field(default_factory=dict)  # name -> role that may not be used
    asof: bool = False
    ambiguous: frozenset[str] = frozenset()
    outer_reads: tuple[Val, ...] = ()  # a subquery's values read from enclosing scopes
    first: Val | None = None  # the first column (what a scalar or IN subquery yields)

    @property
    def pid_column(self) -> str | None:
        """The row owner's key (a never-NULL person key), if the relation carries one."""
        return next((name for name, val in self.columns.items() if val.owner), None)

    def null_supplying(self) -> Relation:
        """This relation as the right side of a LEFT or ASOF join: its person keys are NULL on
        unmatched rows, so none of them is a row owner any more."""
        columns = {n: v.with_(nullable=True) if v.pid else v for n, v in self.columns.items()}
        return Relation(
            columns,
            self.personal,
            self.datasets,
            self.row_cap,
            self.hidden,
            self.asof,
            self.ambiguous,
        )


def dataset_relation(
    spec: DatasetSpec, declared: dict[str, Interval], *, consented: bool = False
) -> Relation:
    """A dataset as templates see it: ``pid`` instead of the identifier, no consent/blocked.

    ``consented``: the dataset of a consent analysis, which also carries :data:`CONSENTED`, its
    consent for the template's purpose as a total boolean with the public values FALSE and TRUE
    (usable only as a group key of the release: see ``ExpressionChecker.column``).
    """
    personal = spec.is_personal
    columns: dict[str, Val] = {}
    hidden: dict[str, str] = {}
    if personal:
        columns[PID] = Val(pid=True, groupable=False)
    for col in spec.columns:
        if col.role in ("identifier", "consent", "blocked"):
            hidden[col.name] = col.role
        elif col.role == "metric":
            bounds = col.bounds
            integer = bounds is not None and all(float(b).is_integer() for b in bounds)
            columns[col.name] = Val(
                groupable=not personal,
                bounds=bounds,
                integer=integer,
                metrics=frozenset({f"{spec.name}.{col.name}"}) if personal else frozenset(),
                kind=NUMBER,
                reference=not personal,
            )
        elif col.role == "timestamp":
            columns[col.name] = Val(kind=TIME, reference=not personal)
        else:
            # Dimensions are stored as VARCHAR, or BIGINT when the declared values are integers.
            numeric = col.values is not None and all(
                isinstance(v, int) and not isinstance(v, bool) for v in col.values
            )
            columns[col.name] = Val(
                domain=col.values,
                kind=NUMBER if numeric else TEXT,
                integer=numeric,
                reference=not personal,
                sensitive=col.role == "sensitive",
            )
    if consented:
        columns[CONSENTED] = Val(domain=(False, True), kind=BOOL, consent=True)
    cap = float(spec.max_rows_per_user) if personal and spec.max_rows_per_user else None
    return Relation(columns, personal, frozenset({spec.name}), cap, hidden)


@dataclass
class Source:
    alias: str
    relation: Relation


@dataclass
class Scope:
    """The FROM items visible in one SELECT, with a link to the enclosing SELECT."""

    parent: Scope | None = None
    sources: dict[str, Source] = field(default_factory=dict)
    using: set[str] = field(default_factory=set)
    domains: dict[tuple[str, str], tuple[object, ...]] = field(default_factory=dict)
    outer_vals: list[Val] = field(default_factory=list)  # values read from enclosing scopes

    @property
    def personal(self) -> bool:
        return any(s.relation.personal for s in self.sources.values())

    @property
    def datasets(self) -> frozenset[str]:
        return frozenset().union(*(s.relation.datasets for s in self.sources.values()))

    def first_pid(self) -> tuple[str, str] | None:
        """(alias, column) of the first personal source's row owner key (never NULL)."""
        for source in self.sources.values():
            name = source.relation.pid_column
            if source.relation.personal and name:
                return source.alias, name
        return None


@dataclass(frozen=True)
class Resolved:
    alias: str
    name: str
    val: Val
    outer: bool


@dataclass(frozen=True)
class Unresolved:
    code: str
    message: str


def resolve(scope: Scope, table: str, name: str) -> Resolved | Unresolved:
    """Find column ``name`` (optionally of ``table``) in ``scope`` or an enclosing scope."""
    current: Scope | None = scope
    outer = False
    forbidden: Unresolved | None = None
    while current is not None:
        if table:
            source = current.sources.get(table)
            if source is not None:
                return _column_of(source, name, outer, current)
        else:
            found = [s for s in current.sources.values() if name in s.relation.columns]
            if len(found) > 1 and name not in current.using:
                return Unresolved(
                    "ambiguous_column",
                    f"column '{name}' exists in several FROM items; qualify it",
                )
            if found:
                return _column_of(found[0], name, outer, current)
            for source in current.sources.values():
                role = source.relation.hidden.get(name)
                if role and forbidden is None:
                    forbidden = _hidden(name, role)
        current = current.parent
        outer = True
    if forbidden is not None:
        return forbidden
    if table:
        return Unresolved("unknown_column", f"no FROM item is called '{table}'")
    return Unresolved("unknown_column", f"no column '{name}' in the FROM items")


def _hidden(name: str, role: str) -> Unresolved:
    if role == "identifier":
        return Unresolved(
            "unknown_column", f"column '{name}' does not exist; the person key is called pid"
        )
    if role == "consent":
        return Unresolved(
            "consent_column",
            f"consent column '{name}' is applied automatically and cannot be referenced",
        )
    return Unresolved("blocked_column", f"column '{name}' is blocked by the dataset's policy")


def _column_of(source: Source, name: str, outer: bool, scope: Scope) -> Resolved | Unresolved:
    relation = source.relation
    if name in relation.ambiguous:
        return Unresolved(
            "ambiguous_column", f"'{source.alias}' has several columns called '{name}'"
        )
    val = relation.columns.get(name)
    if val is None:
        role = relation.hidden.get(name)
        if role:
            return _hidden(name, role)
        return Unresolved("unknown_column", f"'{source.alias}' has no column '{name}'")
    domain = scope.domains.get((source.alias, name))
    if domain is not None:
        val = val.with_(domain=domain)
    return Resolved(source.alias, name, val, outer)
