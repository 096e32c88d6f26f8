"""The demo world generator: deterministic per seed, plants its effects, fits its specs."""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cleanroom.demo.activity import PLANTED_WINDOW_DAYS
from cleanroom.demo.emails import identity_key
from cleanroom.demo.runner import DemoOptions
from cleanroom.demo.specs import DATASET_OWNERS, DEMO_POLICY, demo_dataset_specs
from cleanroom.demo.world import DEFAULT_SHOPPERS, World, generate_world
from cleanroom.errors import InvalidRequest
from cleanroom.types import CollaborationPolicy, DatasetSpec


def _digests(world: World) -> dict[str, str]:
    return {n: hashlib.sha256(p.read_bytes()).hexdigest() for n, p in world.files.items()}


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path, small_world: World) -> None:
    again = generate_world(tmp_path / "again", seed=small_world.seed, shoppers=3000)
    assert _digests(again) == _digests(small_world)
    other = generate_world(tmp_path / "other", seed=small_world.seed + 1, shoppers=3000)
    assert _digests(other)["transactions"] != _digests(small_world)["transactions"]


def test_files_columns_and_owners_match_the_specs(small_world: World) -> None:
    policy = CollaborationPolicy.from_dict(DEMO_POLICY)
    specs = demo_dataset_specs()
    assert set(small_world.files) == set(specs) == set(DATASET_OWNERS)
    assert small_world.owners["crm"] == "acme"
    assert small_world.owners["transactions"] == "retailer"
    for name, spec in specs.items():
        DatasetSpec.from_dict(spec).check_against_policy(policy)
        header = pd.read_csv(small_world.files[name], nrows=0).columns.tolist()
        assert header == list(spec["columns"]), name
        assert small_world.spec_files[name].is_file()
    assert (small_world.out_dir / "collaboration.json").is_file()


def test_declared_values_bounds_and_row_caps_hold(small_world: World) -> None:
    """The specs' public domains cover the data and the caps never bind on the demo world."""
    for name, spec in demo_dataset_specs().items():
        frame = pd.read_csv(small_world.files[name])
        for column, col in spec["columns"].items():
            if col.get("values") is not None:
                assert set(frame[column].unique()) <= set(col["values"]), (name, column)
            if col.get("bounds") is not None:
                lo, hi = col["bounds"]
                assert frame[column].between(lo, hi).all(), (name, column)
        if spec["kind"] == "personal":
            per_person = frame["email"].map(identity_key).value_counts()
            assert per_person.max() <= spec["max_rows_per_user"], name


def test_emails_are_raw_and_sometimes_respelled_across_sides(small_world: World) -> None:
    customers = pd.read_csv(small_world.files["customers"])["email"]
    crm = pd.read_csv(small_world.files["crm"])["email"]
    assert customers.str.contains("@").all()
    assert customers.map(identity_key).is_unique
    known = dict(zip(customers.map(identity_key), customers, strict=True))
    respelled = [e for e in crm if identity_key(e) in known and known[identity_key(e)] != e]
    assert len(respelled) > 100
    assert any("+" in e for e in respelled)
    assert any(e != e.lower() for e in respelled)
    assert any(e.lower().endswith("@gmail.com") and "." not in e.split("@")[0] for e in respelled)
    # the advertiser also knows people who do not shop at the retailer
    assert (~crm.map(identity_key).isin(known)).sum() > 100


@pytest.fixture(scope="module")
def default_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The demo's seed on a tenth of its default size (20,000 of 200,000 shoppers): big enough
    for the planted effects to show, small enough for the test suite."""
    return generate_world(tmp_path_factory.mktemp("default_world"), shoppers=20_000)


def test_the_demo_generates_200_000_shoppers_by_default() -> None:
    assert DEFAULT_SHOPPERS == 200_000
    assert inspect.signature(generate_world).parameters["shoppers"].default == DEFAULT_SHOPPERS
    assert DemoOptions().shoppers == DEFAULT_SHOPPERS


def test_world_size_scales_with_the_shoppers(default_world: World) -> None:
    # 10 to 22 rows per shopper over the six files: 2 to 4.5 million rows for the demo's world.
    assert default_world.shoppers == 20_000
    assert 200_000 < sum(default_world.row_counts.values()) < 450_000


def test_exposed_test_cell_converts_more_than_holdout(default_world: World) -> None:
    """Per campaign: reached test-cell shoppers buy the brand within 14 days of first exposure
    more often than holdout shoppers do within 14 days of a matched random day of the flight."""

    def keyed(name: str, stamp: str) -> pd.DataFrame:
        frame = pd.read_csv(default_world.files[name], parse_dates=[stamp])
        return frame.assign(person=frame["email"].map(identity_key))

    holdout = keyed("holdout", "assigned_ts")
    exposures = keyed("exposures", "exposure_ts")
    buys = keyed("transactions", "txn_ts")
    buys = buys[buys["brand"] == default_world.brand]
    window = pd.Timedelta(days=PLANTED_WINDOW_DAYS)
    rng = np.random.default_rng(0)

    def conversion(starts: pd.DataFrame) -> float:
        joined = starts.merge(buys[["person", "txn_ts"]], on="person", how="left")
        hit = (joined["txn_ts"] >= joined["start"]) & (joined["txn_ts"] < joined["start"] + window)
        return float(joined.assign(hit=hit).groupby("person")["hit"].any().mean())

    for campaign in default_world.campaigns:
        cid = campaign.campaign_id
        firsts = exposures[exposures["campaign_id"] == cid].groupby("person")["exposure_ts"].min()
        exposed = firsts.rename("start").reset_index()
        cells = holdout[(holdout["campaign_id"] == cid) & (holdout["randomized"] == "yes")]
        control = cells[cells["cell"] == "holdout"][["person"]]
        # the holdout is never exposed; give each a start drawn from the exposed starts
        control = control.assign(start=rng.choice(exposed["start"].to_numpy(), size=len(control)))
        assert not set(control["person"]) & set(exposed["person"])
        difference = conversion(exposed) - conversion(control)
        assert campaign.lift / 3 < difference < campaign.lift + 0.05, cid


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="shoppers"):
        generate_world(tmp_path, shoppers=10)
    with pytest.raises(InvalidRequest, match="seed"):
        generate_world(tmp_path, seed=-1)
