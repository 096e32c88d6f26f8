"""A small demo collaboration built through the services layer (no HTTP), on SQLite or
PostgreSQL: the retailer's and the advertiser's datasets registered from hashed CSVs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cleanroom.config import Settings
from cleanroom.demo.specs import (
    ADVERTISER_ORG,
    DATASET_OWNERS,
    DEMO_POLICY,
    RETAILER_ORG,
    demo_dataset_specs,
)
from cleanroom.demo.uploads import hash_world
from cleanroom.demo.world import World, generate_world
from cleanroom.services.collaborations import create_collaboration
from cleanroom.services.context import Services, build_services
from cleanroom.services.datasets import register_dataset
from cleanroom.services.requests import DatasetRegistration, TemplateSubmission
from cleanroom.services.templates import decide_template, submit_template
from cleanroom.store import Collaboration, Template
from cleanroom.types import Principal

QUERIES = Path(__file__).resolve().parents[2] / "queries"
ADMIN = Principal("alice", RETAILER_ORG, "retailer_admin")
ANALYST = Principal("bob", ADVERTISER_ORG, "advertiser")


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return generate_world(tmp_path_factory.mktemp("world"), seed=11, shoppers=2000)


@pytest.fixture(scope="session")
def hashed_files(small_world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The world's files as partners upload them (emails hashed by `cleanroom hash`'s code)."""
    return hash_world(small_world, tmp_path_factory.mktemp("hashed"))


@pytest.fixture
def svc(pg_settings: Settings) -> Iterator[Services]:
    services = build_services(pg_settings, migrate=True)
    yield services
    services.close()


@dataclass(frozen=True)
class Room:
    collab: Collaboration
    templates: dict[str, Template]


# The demo's policy with the epsilon and delta room these tests spend (runs at up to 5 epsilon).
ROOM_POLICY = {**DEMO_POLICY, "epsilon_budget": 50.0, "max_epsilon_per_run": 5.0,
               "delta_budget": 1e-5}  # fmt: skip


def build_room(svc: Services, files: dict[str, Path], template_names: tuple[str, ...]) -> Room:
    collab = create_collaboration(svc, ADMIN, "demo", [ADVERTISER_ORG], ROOM_POLICY)
    for name, path in files.items():
        owner = ADMIN if DATASET_OWNERS[name] == RETAILER_ORG else ANALYST
        register_dataset(
            svc, owner, collab.id, path, DatasetRegistration.from_json(demo_dataset_specs()[name])
        )
    templates = {}
    for name in template_names:
        sql = (QUERIES / f"{name}.sql").read_text()
        pending = submit_template(
            svc, ANALYST, collab.id, TemplateSubmission.from_json({"sql": sql})
        )
        templates[name] = decide_template(svc, ADMIN, collab.id, pending.id, "approve")
    return Room(collab, templates)


@pytest.fixture
def room(svc: Services, hashed_files: dict[str, Path]) -> Room:
    return build_room(svc, hashed_files, ("exposed_conversion", "roas"))


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path
