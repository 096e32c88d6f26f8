"""Rewrite step 1: every dataset reference reads the engine's view through the run's filters.

A personal dataset keeps rows with consent for the template's purpose, drops suppressed people
(an anti-join both DuckDB and Spark plan as one), and keeps at most ``max_rows_per_user`` rows per
person. Which rows are kept is decided by a keyed hash of the run's secret seed and the row itself,
so it depends on that person's rows only (never on other people's, as a random order over the
whole table could through the engine's scheduling) and cannot be predicted without the seed.
Rows with equal hashes are equal in every column read, so either choice gives the same result.

>>> from cleanroom.specs import DatasetSpec
>>> spec = DatasetSpec.from_dict({"name": "t", "kind": "personal", "purposes": ["measurement"],
...     "max_rows_per_user": 5, "columns": {"email": {"role": "identifier"},
...     "brand": {"role": "dimension"}}})
>>> print(personal_source(spec, "measurement", seed=7).sql("duckdb"))
... # doctest: +NORMALIZE_WHITESPACE
SELECT pid, brand FROM (SELECT pid, brand, ROW_NUMBER() OVER (PARTITION BY pid ORDER BY cr_rand)
AS cr_row FROM (SELECT d.pid, d.brand, HASH(7, d.pid, d.brand) AS cr_rand FROM cr_ds_t AS d WHERE
NOT EXISTS(SELECT 1 FROM cr_suppressed AS s WHERE s.pid = d.pid)) AS cr_allowed) AS cr_row_capped
WHERE cr_row <= 5

When the run's dataset version has no person with more rows than the cap, the window is omitted:

>>> print(personal_source(spec, "measurement", capped=False).sql("duckdb"))
... # doctest: +NORMALIZE_WHITESPACE
SELECT d.pid, d.brand FROM cr_ds_t AS d WHERE NOT EXISTS(SELECT 1 FROM cr_suppressed AS s
WHERE s.pid = d.pid)
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from sqlglot import exp, parse_one

from cleanroom.errors import InternalError
from cleanroom.names import CONSENTED, PID, SUPPRESSION_VIEW, dataset_view
from cleanroom.specs import DatasetSpec

DEFAULT_ROW_CAP = 1000  # rows per person when a personal spec sets no max_rows_per_user
SEED_COLUMN = "cr_seed"  # stands for the run's seed in cached SQL; replaced by a literal
WRAPPED = "cr_wrapped"  # meta flag on the engine views a wrapper reads (see policy.verify)


def keyed_hash(seed: int, *parts: exp.Expr) -> exp.Expr:
    """``HASH(seed, parts...)``: a per-run pseudo-random value of ``parts`` (DuckDB's hash; the
    Spark generation maps it to ``xxhash64``)."""
    return exp.Anonymous(this="HASH", expressions=[exp.Literal.number(seed), *parts])


def row_cap(spec: DatasetSpec) -> int:
    """The rows per person the rewrite keeps of personal dataset ``spec``."""
    return int(spec.max_rows_per_user or DEFAULT_ROW_CAP)


def cap_can_bind(spec: DatasetSpec, observed_max_rows: Mapping[str, int] | None) -> bool:
    """May someone have more rows than the cap in the version the run reads? (unknown: yes)"""
    if observed_max_rows is None:
        return True
    observed = observed_max_rows.get(spec.name)
    return observed is None or observed > row_cap(spec)


Path = tuple[tuple[str, int | None], ...]


@lru_cache(maxsize=512)
def _parsed(sql: str) -> tuple[exp.Select, Path | None]:
    """The parsed wrapper and the path to its seed placeholder (None: no seed).

    Cached per text (a few per collaboration); callers get a copy, never this tree. Source
    positions are dropped (nothing here is reported to a person) so that copies are cheap; the
    engine views it reads are marked :data:`WRAPPED` here, once (copies keep the mark).
    """
    select = parse_one(sql, read="duckdb")
    assert isinstance(select, exp.Select)
    seed: Path | None = None
    for node in select.walk():
        node._meta = None
        if isinstance(node, exp.Table):
            node.meta[WRAPPED] = True
        elif isinstance(node, exp.Column) and node.name == SEED_COLUMN:
            seed = _path(node)
    return select, seed


def _path(node: exp.Expr) -> Path:
    steps: list[tuple[str, int | None]] = []
    while node.parent is not None:
        steps.append((str(node.arg_key), node.index))
        node = node.parent
    return tuple(reversed(steps))


def _at(root: exp.Expr, path: Path) -> exp.Expr:
    node = root
    for key, index in path:
        child = node.args[key]
        node = child[index] if index is not None else child
    return node


def _copy(sql: str, seed: int) -> exp.Select:
    tree, path = _parsed(sql)
    select = tree.copy()
    if path is not None:
        _at(select, path).replace(exp.Literal.number(seed))
    return select


def personal_source(
    spec: DatasetSpec,
    purpose: str,
    *,
    capped: bool = True,
    seed: int = 0,
    consented: bool = False,
) -> exp.Select:
    """The subquery that replaces a personal dataset (names are validated spec names).

    ``capped=False`` leaves out the per-person row cap: only for a dataset version in which no
    person has more than ``max_rows_per_user`` rows (see :func:`cap_can_bind`). The consent and
    suppression filters only remove rows, so ``ROW_NUMBER() <= cap`` would hold for every row left
    and the result is exactly the same, without sorting every row of the dataset by person.

    ``consented=True`` (the dataset of a consent analysis): no consent filter; instead the rows
    carry :data:`CONSENTED`, the consent for ``purpose`` as a total boolean (NULL is FALSE).
    Suppression and the row cap apply as always; the row cap's hash reads it like any column.
    """
    names = [PID] + [c.name for c in spec.stored_columns() if c.role != "consent"]
    columns = [f"d.{n}" for n in names]
    conditions = [f"NOT EXISTS (SELECT 1 FROM {SUPPRESSION_VIEW} AS s WHERE s.pid = d.pid)"]
    consent = spec.consent_column(purpose)
    if consented:
        if consent is None:  # check_consent refused it
            raise InternalError("a consent analysis without a consent column; this is a bug")
        names.append(CONSENTED)
        columns.append(f"COALESCE(d.{consent.name} IS TRUE, FALSE)")
    elif consent is not None:
        conditions.insert(0, f"d.{consent.name} IS TRUE")
    plain = ", ".join(names)
    qualified = ", ".join(
        f"{c} AS {n}" if n == CONSENTED else c for c, n in zip(columns, names, strict=True)
    )
    hashed = ", ".join(columns)
    filtered = f"FROM {dataset_view(spec.name)} AS d WHERE {' AND '.join(conditions)}"
    if not capped:
        return _copy(f"SELECT {qualified} {filtered}", seed)
    sql = (
        f"SELECT {plain} FROM (SELECT {plain}, ROW_NUMBER() OVER (PARTITION BY pid ORDER BY "
        f"cr_rand) AS cr_row FROM (SELECT {qualified}, HASH({SEED_COLUMN}, {hashed}) AS "
        f"cr_rand {filtered}) AS cr_allowed) AS cr_row_capped WHERE cr_row <= {row_cap(spec)}"
    )
    return _copy(sql, seed)


def wrap_datasets(
    tables: list[tuple[exp.Table, DatasetSpec]],
    purpose: str,
    observed_max_rows: Mapping[str, int] | None = None,
    seed: int = 0,
    consent: str | None = None,
) -> None:
    """Replace each dataset reference in place (the tree is the bound template's copy).

    ``consent`` names a consent analysis's dataset: read unfiltered by consent, with
    :data:`~cleanroom.names.CONSENTED` (:func:`personal_source`).

    ``observed_max_rows`` (dataset name -> most rows one person has in the version the run reads)
    drops the row cap of datasets where it cannot bind; unknown datasets keep it.
    """
    for table, spec in tables:
        alias = (table.alias or table.name).lower()
        if spec.is_personal:
            capped = cap_can_bind(spec, observed_max_rows)
            source = personal_source(
                spec, purpose, capped=capped, seed=seed, consented=spec.name == consent
            )
            replacement: exp.Expr = exp.Subquery(
                this=source, alias=exp.TableAlias(this=exp.to_identifier(alias))
            )
        else:
            replacement = exp.Table(
                this=exp.to_identifier(dataset_view(spec.name)),
                alias=exp.TableAlias(this=exp.to_identifier(alias)),
            )
            replacement.meta[WRAPPED] = True
        table.replace(replacement)
