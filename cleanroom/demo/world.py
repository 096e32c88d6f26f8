"""The demo world: a seeded synthetic retailer and advertiser, written as CSV with raw emails.

Retailer (org ``retailer``): ``customers``, ``exposures``, ``transactions``, ``holdout``.
Advertiser (org ``acme``): ``crm`` and the reference table ``campaign_spend``.

Planted truth: each campaign raises, for the shoppers of its test cell it reached, the probability
of an extra purchase of the brand within 14 days of their first exposure by ``Campaign.lift``; the
randomized holdout cell is never exposed; shoppers also buy the brand (and competitors) out of
habit. Emails are raw and sometimes spelled differently for the same person across files (case,
Gmail dots and ``+tags``): hash them with ``cleanroom hash`` before registering, as a partner would.

The same seed writes byte-identical files (numpy's seeded ``Generator``; this is data generation,
not privacy noise).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from cleanroom.demo.activity import CAMPAIGNS, Campaign, run_campaigns, transactions_table
from cleanroom.demo.population import crm_table, customers_table, make_people
from cleanroom.demo.specs import (
    ADVERTISER_BRAND,
    DATASET_OWNERS,
    demo_collaboration_spec,
    demo_dataset_specs,
)
from cleanroom.errors import InvalidRequest

MIN_SHOPPERS = 500
MAX_SHOPPERS = 1_000_000
DEFAULT_SHOPPERS = 200_000  # what `cleanroom demo` generates; tests pass small worlds


@dataclass(frozen=True)
class World:
    """Where a generated world lives and what was planted in it."""

    out_dir: Path
    seed: int
    shoppers: int
    brand: str
    campaigns: tuple[Campaign, ...]
    files: Mapping[str, Path]  # dataset name -> CSV file
    spec_files: Mapping[str, Path]  # dataset name -> dataset spec JSON (docs/specs.md)
    row_counts: Mapping[str, int]
    owners: Mapping[str, str]  # dataset name -> owning org

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "seed": self.seed,
            "shoppers": self.shoppers,
            "brand": self.brand,
            "campaigns": [c.to_dict() for c in self.campaigns],
            "files": {k: str(v) for k, v in self.files.items()},
            "spec_files": {k: str(v) for k, v in self.spec_files.items()},
            "row_counts": dict(self.row_counts),
            "owners": dict(self.owners),
        }


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as CSV by pyarrow's writer (seconds for millions of rows): timestamps to the
    second as ``YYYY-MM-DD HH:MM:SS``, booleans as the lower-case literals every CSV reader (and
    DuckDB's sniffer) reads as booleans, nothing quoted (no generated value needs it)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.timestamp("s")))
    tmp = path.with_name(path.name + ".tmp")
    # quoting_header is newer than pyarrow-stubs
    options = pa_csv.WriteOptions(quoting_style="none", quoting_header="none")  # type: ignore[call-arg]
    pa_csv.write_csv(table, tmp, options)
    tmp.replace(path)


def generate_world(out_dir: Path | str, seed: int = 7, shoppers: int = DEFAULT_SHOPPERS) -> World:
    """Generate the demo world into ``out_dir`` (created if needed) and describe it.

    Writes ``<dataset>.csv`` for the six datasets, ``specs/<dataset>.json``, ``collaboration.json``
    (the file ``cleanroom validate --spec`` reads) and ``world.json`` (this description, with the
    planted per-campaign lifts).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidRequest("seed must be a non-negative integer")
    if isinstance(shoppers, bool) or not isinstance(shoppers, int):
        raise InvalidRequest("shoppers must be an integer")
    if not MIN_SHOPPERS <= shoppers <= MAX_SHOPPERS:
        raise InvalidRequest(f"shoppers must be between {MIN_SHOPPERS} and {MAX_SHOPPERS}")
    out = Path(out_dir)
    (out / "specs").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    people, outside = make_people(rng, shoppers, np.random.default_rng([seed, 55]))
    activity = run_campaigns(rng, people)
    tables = {
        "customers": customers_table(people),
        "exposures": activity.exposures,
        "transactions": transactions_table(rng, people, activity.planted),
        "holdout": activity.holdout,
        "crm": crm_table(rng, people, outside),
        "campaign_spend": pd.DataFrame(
            {
                "campaign_id": [c.campaign_id for c in CAMPAIGNS],
                "spend_cents": [c.spend_cents for c in CAMPAIGNS],
            }
        ),
    }
    files: dict[str, Path] = {}
    spec_files: dict[str, Path] = {}
    for name, spec in demo_dataset_specs().items():
        files[name] = out / f"{name}.csv"
        _write_csv(tables[name], files[name])
        spec_files[name] = out / "specs" / f"{name}.json"
        spec_files[name].write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    (out / "collaboration.json").write_text(
        json.dumps(demo_collaboration_spec(), indent=2) + "\n", encoding="utf-8"
    )
    world = World(
        out_dir=out,
        seed=seed,
        shoppers=shoppers,
        brand=ADVERTISER_BRAND,
        campaigns=CAMPAIGNS,
        files=files,
        spec_files=spec_files,
        row_counts={name: len(frame) for name, frame in tables.items()},
        owners=dict(DATASET_OWNERS),
    )
    (out / "world.json").write_text(json.dumps(world.to_dict(), indent=2) + "\n", encoding="utf-8")
    return world
