"""Seeded synthetic uploads with the demo schema (``exposures`` and ``transactions``).

``rows`` rows per dataset over ``rows // 10`` people (so about ten exposures and ten purchases per
person), identifiers already hashed as a partner uploads them (SHA-256 hex of a per-person string).
Random columns come from numpy's seeded ``Generator``; DuckDB hashes the identifiers and writes the
CSV or Parquet file. The same (dataset, rows, seed) always gives the same rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from cleanroom.demo.specs import CATEGORIES, PLACEMENTS, PURCHASE_CHANNELS

CAMPAIGNS = ("c1", "c2", "c3", "c4", "c5")  # c5 is never asked for by the templates
BRANDS = ("acme", "zenith", "bolt", "nova")
_PLACEMENT_CHANNEL = ("onsite", "onsite", "onsite", "offsite", "instore")
_EXPOSURE_START = np.datetime64("2025-04-01T00:00:00", "s")
_EXPOSURE_SECONDS = 91 * 86_400
_TXN_START = np.datetime64("2025-03-01T00:00:00", "s")
_TXN_SECONDS = 153 * 86_400
PEOPLE_PER_ROW = 0.1


def people_for(rows: int) -> int:
    return max(100, int(rows * PEOPLE_PER_ROW))


def _choice(rng: np.random.Generator, values: tuple[str, ...], n: int, p: list[float]) -> Any:
    codes = rng.choice(len(values), size=n, p=p).astype(np.int32)
    return pa.DictionaryArray.from_arrays(codes, pa.array(values)).cast(pa.string())


def exposures_table(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng([seed, 1])
    placement = rng.choice(len(PLACEMENTS), size=rows, p=[0.3, 0.25, 0.15, 0.2, 0.1])
    return pa.table(
        {
            "person": pa.array(rng.integers(0, people_for(rows), size=rows)),
            "campaign_id": _choice(rng, CAMPAIGNS, rows, [0.2] * 5),
            "placement": pa.array(np.array(PLACEMENTS)[placement]),
            "exposure_ts": pa.array(
                _EXPOSURE_START + rng.integers(0, _EXPOSURE_SECONDS, size=rows).astype("m8[s]")
            ),
            "channel": pa.array(np.array(_PLACEMENT_CHANNEL)[placement]),
        }
    )


def transactions_table(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng([seed, 2])
    return pa.table(
        {
            "person": pa.array(rng.integers(0, people_for(rows), size=rows)),
            "txn_ts": pa.array(
                _TXN_START + rng.integers(0, _TXN_SECONDS, size=rows).astype("m8[s]")
            ),
            "brand": _choice(rng, BRANDS, rows, [0.3, 0.25, 0.25, 0.2]),
            "category": _choice(rng, CATEGORIES, rows, [0.25] * 4),
            "channel": _choice(rng, PURCHASE_CHANNELS, rows, [0.6, 0.4]),
            "amount_cents": pa.array(
                np.minimum(np.round(rng.lognormal(7.0, 0.8, size=rows)), 150_000).astype(np.int64)
            ),
            "units": pa.array(rng.integers(1, 6, size=rows)),
            "consent_measurement": pa.array(rng.random(rows) < 0.95),
            "postal_code": pa.array(rng.integers(10_000, 99_999, size=rows).astype(str)),
        }
    )


_TABLES = {"exposures": exposures_table, "transactions": transactions_table}


def write_dataset(name: str, rows: int, fmt: str, out_dir: Path, seed: int) -> Path:
    """``out_dir/<name>-<rows>.<fmt>`` (generated once, reused after)."""
    path = out_dir / f"{name}-{rows}.{fmt}"
    if path.exists():
        return path
    out_dir.mkdir(parents=True, exist_ok=True)
    data = _TABLES[name](rows, seed)
    columns = [c for c in data.column_names if c != "person"]
    select = ", ".join(
        ["sha256('bench-' || person::VARCHAR) AS email"] + [f'"{c}"' for c in columns]
    )
    tmp = path.with_name(path.name + ".tmp")
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        con.register("data", data)
        con.execute(f"COPY (SELECT {select} FROM data) TO '{tmp}' ({options})")
    tmp.replace(path)
    return path
