"""Small Parquet datasets written the way ingest writes them (pid as fixed_size_binary(32),
microsecond timestamps, naive and UTC), shared by the engine tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cleanroom.names import dataset_view

PEOPLE = 60


def pid(i: int) -> bytes:
    return hashlib.sha256(f"person-{i}".encode()).digest()


def write_datasets(datasets_dir: Path) -> dict[str, str]:
    """Two personal datasets (exposures, transactions) and a reference one (stores)."""
    rng = random.Random(7)
    datasets_dir.mkdir(parents=True, exist_ok=True)
    start = dt.datetime(2024, 3, 1, 22, 0)
    exp_rows: dict[str, list[object]] = {"pid": [], "ts": [], "campaign": []}
    tx_rows: dict[str, list[object]] = {
        "pid": [], "ts": [], "ts_utc": [], "store_id": [], "amount_cents": [], "channel": []
    }  # fmt: skip
    for i in range(PEOPLE):
        for _ in range(rng.randint(0, 4)):
            exp_rows["pid"].append(pid(i))
            exp_rows["ts"].append(start + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 5)))
            exp_rows["campaign"].append(rng.choice(["spring", "summer"]))
        for _ in range(rng.randint(0, 5)):
            when = start + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 7))
            tx_rows["pid"].append(pid(i))
            tx_rows["ts"].append(when)
            tx_rows["ts_utc"].append(when.replace(tzinfo=dt.UTC))
            tx_rows["store_id"].append(rng.randint(1, 3))
            tx_rows["amount_cents"].append(rng.randint(100, 20_000))
            tx_rows["channel"].append(rng.choice(["web", "store", "secret-value"]))
    key = pa.binary(32)
    exposures = pa.table(
        {
            "pid": pa.array(exp_rows["pid"], key),
            "ts": pa.array(exp_rows["ts"], pa.timestamp("us")),
            "campaign": pa.array(exp_rows["campaign"], pa.string()),
        }
    )
    transactions = pa.table(
        {
            "pid": pa.array(tx_rows["pid"], key),
            "ts": pa.array(tx_rows["ts"], pa.timestamp("us")),
            "ts_utc": pa.array(tx_rows["ts_utc"], pa.timestamp("us", tz="UTC")),
            "store_id": pa.array(tx_rows["store_id"], pa.int64()),
            "amount_cents": pa.array(tx_rows["amount_cents"], pa.int64()),
            "channel": pa.array(tx_rows["channel"], pa.string()),
        }
    )
    stores = pa.table({"store_id": [1, 2, 3], "region": ["north", "south", "north"]})
    out = {}
    for name, table in (
        ("exposures", exposures),
        ("transactions", transactions),
        ("stores", stores),
    ):
        path = datasets_dir / f"{name}.parquet"
        pq.write_table(table, path)
        out[dataset_view(name)] = str(path)
    return out


SUPPRESSED = [pid(0), pid(1), pid(2)]
