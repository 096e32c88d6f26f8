"""Rewrite step 1: every dataset reference reads the engine's view through the run's filters.

A personal dataset keeps rows with consent for the template's purpose, drops suppressed people
(an anti-join both DuckDB and Spark plan as one), and keeps at most ``max_rows_per_user`` rows per
person, chosen by a random column computed before the window (DuckDB refuses volatile ordering).

>>> from cleanroom.types import DatasetSpec
>>> spec = DatasetSpec.from_dict({"name": "t", "kind": "personal", "purposes": ["measurement"],
...     "max_rows_per_user": 5, "columns": {"email": {"role": "identifier"},
...     "brand": {"role": "dimension"}}})
>>> print(personal_source(spec, "measurement").sql("duckdb"))  # doctest: +NORMALIZE_WHITESPACE
SELECT pid, brand FROM (SELECT pid, brand, ROW_NUMBER() OVER (PARTITION BY pid ORDER BY cr_rand)
AS cr_row FROM (SELECT d.pid, d.brand, RANDOM() AS cr_rand FROM cr_ds_t AS d WHERE NOT EXISTS(SELECT
1 FROM cr_suppressed AS s WHERE s.pid = d.pid)) AS cr_allowed) AS cr_row_capped WHERE cr_row <= 5
"""

from __future__ import annotations

from sqlglot import exp, parse_one

from cleanroom.types import PID, SUPPRESSION_VIEW, DatasetSpec, dataset_view


def personal_source(spec: DatasetSpec, purpose: str) -> exp.Select:
    """The subquery that replaces a personal dataset (names are validated spec names)."""
    names = [PID] + [c.name for c in spec.stored_columns() if c.role != "consent"]
    plain = ", ".join(names)
    qualified = ", ".join(f"d.{n}" for n in names)
    conditions = [f"NOT EXISTS (SELECT 1 FROM {SUPPRESSION_VIEW} AS s WHERE s.pid = d.pid)"]
    consent = spec.consent_column(purpose)
    if consent is not None:
        conditions.insert(0, f"d.{consent.name} IS TRUE")
    cap = int(spec.max_rows_per_user or 1000)
    sql = (
        f"SELECT {plain} FROM (SELECT {plain}, ROW_NUMBER() OVER (PARTITION BY pid ORDER BY "
        f"cr_rand) AS cr_row FROM (SELECT {qualified}, RANDOM() AS cr_rand "
        f"FROM {dataset_view(spec.name)} AS d WHERE {' AND '.join(conditions)}) AS cr_allowed) "
        f"AS cr_row_capped WHERE cr_row <= {cap}"
    )
    select = parse_one(sql, read="duckdb")
    assert isinstance(select, exp.Select)
    return select


def wrap_datasets(tables: list[tuple[exp.Table, DatasetSpec]], purpose: str) -> None:
    """Replace each dataset reference in place (the tree is the bound template's copy)."""
    for table, spec in tables:
        alias = (table.alias or table.name).lower()
        if spec.is_personal:
            replacement: exp.Expr = exp.Subquery(
                this=personal_source(spec, purpose),
                alias=exp.TableAlias(this=exp.to_identifier(alias)),
            )
        else:
            replacement = exp.Table(
                this=exp.to_identifier(dataset_view(spec.name)),
                alias=exp.TableAlias(this=exp.to_identifier(alias)),
            )
        table.replace(replacement)
