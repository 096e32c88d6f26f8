"""The demo-like collaboration shared by the policy tests, and a tiny DuckDB harness."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb

from cleanroom.names import SUPPRESSION_VIEW, dataset_view
from cleanroom.specs import CollaborationPolicy, DatasetSpec

POLICY = CollaborationPolicy.from_dict(
    {
        "min_users_per_row": 10,
        "max_groups_per_user": 4,
        "max_count_per_user": 10,
        "purposes": ["measurement", "audience_sizing", "fairness"],
    }
)

SPECS: dict[str, dict[str, Any]] = {
    "exposures": {
        "name": "exposures",
        "kind": "personal",
        "purposes": ["measurement", "audience_sizing", "fairness"],
        "max_rows_per_user": 100,
        "columns": {
            "email_sha256": {"role": "identifier"},
            "campaign_id": {"role": "dimension"},
            "placement": {"role": "dimension", "values": ["onsite", "offsite", "email"]},
            "exposure_ts": {"role": "timestamp"},
            "channel": {"role": "dimension"},
        },
    },
    "transactions": {
        "name": "transactions",
        "kind": "personal",
        "purposes": ["measurement"],
        "max_rows_per_user": 200,
        "columns": {
            "email_sha256": {"role": "identifier"},
            "txn_ts": {"role": "timestamp"},
            "brand": {"role": "dimension"},
            "category": {"role": "dimension"},
            "channel": {"role": "dimension", "values": ["online", "instore"]},
            "amount_cents": {"role": "metric", "bounds": [0, 50000], "aggregates": ["SUM", "AVG"]},
            "units": {"role": "metric", "bounds": [0, 20], "aggregates": ["SUM"]},
            "consent_measurement": {"role": "consent", "purpose": "measurement"},
            "postal_code": {"role": "blocked"},
        },
    },
    "customers": {
        "name": "customers",
        "kind": "personal",
        "purposes": ["measurement", "audience_sizing", "fairness"],
        "max_rows_per_user": 1,
        "columns": {
            "email_sha256": {"role": "identifier"},
            "age_band": {"role": "sensitive", "values": ["18-34", "35-54", "55+"]},
            "region": {"role": "dimension"},
            "segment": {"role": "dimension"},
            "loyalty_tier": {"role": "dimension", "values": ["none", "silver", "gold"]},
        },
    },
    "crm": {
        "name": "crm",
        "kind": "personal",
        "purposes": ["measurement", "audience_sizing"],
        "max_rows_per_user": 5,
        "columns": {"hashed_email": {"role": "identifier"}, "segment": {"role": "dimension"}},
    },
    "holdout": {
        "name": "holdout",
        "kind": "personal",
        "purposes": ["measurement"],
        "max_rows_per_user": 10,
        "columns": {
            "email_sha256": {"role": "identifier"},
            "campaign_id": {"role": "dimension"},
            "cell": {"role": "dimension", "values": ["test", "holdout"]},
        },
    },
    "campaign_spend": {
        "name": "campaign_spend",
        "kind": "reference",
        "columns": {"campaign_id": {"role": "dimension"}, "spend_cents": {"role": "metric"}},
    },
    "catalog": {
        "name": "catalog",
        "kind": "reference",
        "columns": {
            "brand": {"role": "dimension"},
            "parent_company": {"role": "dimension"},
            "category": {"role": "dimension"},
        },
    },
}

DATASETS: dict[str, DatasetSpec] = {n: DatasetSpec.from_dict(s) for n, s in SPECS.items()}

SQL_TYPES = {
    "identifier": None,
    "dimension": "VARCHAR",
    "sensitive": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "metric": "BIGINT",
    "consent": "BOOLEAN",
    "blocked": None,
}


def pid(n: int) -> bytes:
    """A 32-byte person key, as ingestion stores it."""
    return hashlib.sha256(f"person-{n}".encode()).digest()


def connect(
    rows: Mapping[str, Sequence[Mapping[str, Any]]], suppressed: Sequence[int] = ()
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the engine views ``cr_ds_<name>`` and ``cr_suppressed``.

    Rows give ``pid`` as an int (turned into a 32-byte blob); missing columns are NULL, except
    consent columns, which default to true.
    """
    con = duckdb.connect(":memory:")
    for name, spec in DATASETS.items():
        cols = ([("pid", "BLOB")] if spec.is_personal else []) + [
            (c.name, SQL_TYPES[c.role]) for c in spec.stored_columns()
        ]
        table = f"{dataset_view(name)}"
        con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in cols)})")
        for row in rows.get(name, ()):
            values = []
            for col, _ in cols:
                value = row.get(col)
                if col == "pid" and value is not None:
                    value = pid(value)
                if (
                    value is None
                    and spec.column(col) is not None
                    and spec.column(col).role == "consent"
                ):  # type: ignore[union-attr]
                    value = True
                values.append(value)
            marks = ", ".join("?" for _ in cols)
            con.execute(f"INSERT INTO {table} VALUES ({marks})", values)
    con.execute(f"CREATE TABLE {SUPPRESSION_VIEW} (pid BLOB)")
    for n in suppressed:
        con.execute(f"INSERT INTO {SUPPRESSION_VIEW} VALUES (?)", [pid(n)])
    return con
