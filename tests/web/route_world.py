"""A small two-party world and a Flask test client that drives it through the real routes.

Retailer ``shopco`` owns the personal datasets ``exposures`` (uploaded as Parquet) and
``transactions`` (CSV); advertiser ``acme`` owns the personal ``crm`` and the reference
``campaign_spend``. Identifiers are SHA-256 hex of normalized emails, as partners upload them.
Used by the route tests (Flask test client) and the gunicorn system test (which only needs the
files, specs, policy and template text).
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from cleanroom.config import Settings
from cleanroom.services.auth import mint_token
from cleanroom.services.context import Services, build_services
from cleanroom.services.runs import RunWorker
from cleanroom.web.app import create_app
from cleanroom.web.state import app_state

RETAILER, ADVERTISER, OTHER_PARTNER, OUTSIDER = "shopco", "acme", "beta", "stranger"
CAMPAIGNS = ("c1", "c2")
POLICY: dict[str, Any] = {
    "epsilon_budget": 10.0,
    "delta_budget": 1e-6,
    "min_users_per_row": 10,
    "max_groups_per_user": 4,
    "max_count_per_user": 10,
    "max_epsilon_per_run": 2.0,
    "budget_refresh": None,
    "purposes": ["measurement", "audience_sizing"],
    "fairness_min_ratio": 0.8,
}
SPECS: dict[str, dict[str, Any]] = {
    "exposures": {
        "name": "exposures",
        "kind": "personal",
        "max_rows_per_user": 50,
        "retention_days": 90,
        "purposes": ["measurement"],
        "columns": {
            "email_sha256": {"role": "identifier"},
            "campaign_id": {"role": "dimension", "values": list(CAMPAIGNS)},
            "exposure_ts": {"role": "timestamp"},
            "channel": {"role": "dimension", "values": ["onsite", "offsite"]},
        },
    },
    "transactions": {
        "name": "transactions",
        "kind": "personal",
        "max_rows_per_user": 50,
        "retention_days": 90,
        "purposes": ["measurement"],
        "columns": {
            "email_sha256": {"role": "identifier"},
            "txn_ts": {"role": "timestamp"},
            "brand": {"role": "dimension"},
            "amount_cents": {"role": "metric", "bounds": [0, 50000], "aggregates": ["SUM", "AVG"]},
            "consent_measurement": {"role": "consent", "purpose": "measurement"},
            "postal_code": {"role": "blocked"},
        },
    },
    "crm": {
        "name": "crm",
        "kind": "personal",
        "max_rows_per_user": 1,
        "retention_days": 90,
        "purposes": ["measurement"],
        "columns": {
            "email_sha256": {"role": "identifier"},
            "segment": {"role": "dimension", "values": ["loyal", "lapsed"]},
        },
    },
    "campaign_spend": {
        "name": "campaign_spend",
        "kind": "reference",
        "columns": {"campaign_id": {"role": "dimension"}, "spend_cents": {"role": "metric"}},
    },
}
OWNERS = {"exposures": RETAILER, "transactions": RETAILER, "crm": ADVERTISER}
OWNERS["campaign_spend"] = ADVERTISER
TEMPLATE_SQL = """-- name: crm_reach
-- description: CRM members reached by each campaign, and their brand sales
-- purpose: measurement
-- param: campaign_ids list[str] = ["c1", "c2"]
-- param: brand str = "acme"
-- bounds: sales 0 20000
SELECT e.campaign_id, COUNT(DISTINCT e.pid) AS reach, SUM(t.amount_cents) AS sales
FROM exposures AS e
JOIN crm AS c ON c.pid = e.pid
LEFT JOIN transactions AS t ON t.pid = e.pid AND t.brand = :brand
WHERE e.campaign_id IN :campaign_ids
GROUP BY e.campaign_id
"""
# Row-level output and a blocked column: rejected, with a line and column for each violation.
REJECTED_SQL = """-- name: leaky
-- purpose: measurement
SELECT t.pid,
       t.postal_code
FROM transactions AS t
"""
RUN_BODY: dict[str, Any] = {"parameters": {"brand": "acme"}, "privacy_loss": {"epsilon": 1.0}}


def email_sha256(person: int) -> str:
    """The SHA-256 hex of person ``person``'s normalized email."""
    return hashlib.sha256(f"person{person}@example.com".encode()).hexdigest()


@dataclass(frozen=True)
class World:
    files: Mapping[str, Path]  # dataset name -> file to upload
    people: int


def write_world(out_dir: Path, people: int = 300, seed: int = 11) -> World:
    """Write the four datasets (exposures as Parquet, the rest CSV) into ``out_dir``."""
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = datetime(2025, 6, 1)
    exposures: dict[str, list[Any]] = {k: [] for k in SPECS["exposures"]["columns"]}
    transactions: list[dict[str, Any]] = []
    crm: list[dict[str, Any]] = []
    for person in range(people):
        pid = email_sha256(person)
        for campaign in CAMPAIGNS:
            if rng.random() < 0.7:
                for _ in range(rng.randint(1, 3)):
                    exposures["email_sha256"].append(pid)
                    exposures["campaign_id"].append(campaign)
                    exposures["exposure_ts"].append(start + timedelta(hours=rng.randint(0, 500)))
                    exposures["channel"].append(rng.choice(["onsite", "offsite"]))
        for _ in range(rng.randint(1, 4)):
            when = start + timedelta(hours=rng.randint(0, 900))
            transactions.append(
                {
                    "email_sha256": pid,
                    "txn_ts": when.strftime("%Y-%m-%d %H:%M:%S"),
                    "brand": rng.choice(["acme", "acme", "other"]),
                    "amount_cents": rng.randint(100, 9000),
                    "consent_measurement": "true" if rng.random() < 0.9 else "false",
                    "postal_code": f"{rng.randint(10000, 99999)}",
                }
            )
        if person % 5 != 0:
            crm.append({"email_sha256": pid, "segment": rng.choice(["loyal", "lapsed"])})
    files = {
        "exposures": out_dir / "exposures.parquet",
        "transactions": out_dir / "transactions.csv",
        "crm": out_dir / "crm.csv",
        "campaign_spend": out_dir / "campaign_spend.csv",
    }
    pq.write_table(pa.table(exposures), files["exposures"])
    write_csv(files["transactions"], transactions)
    write_csv(files["crm"], crm)
    spend = [{"campaign_id": c, "spend_cents": 100_000 * (i + 1)} for i, c in enumerate(CAMPAIGNS)]
    write_csv(files["campaign_spend"], spend)
    return World(files, people)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def services_for_tests(settings: Settings) -> Services:
    """Services for tests: migrated store, no worker threads (runs execute on demand)."""
    return build_services(settings.replace(worker_threads=0), migrate=True)


class RouteApi:
    """The app's test client, acting as (org, role) with freshly minted tokens."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: Flask = create_app(
            {"TESTING": True, "SERVICES_FACTORY": services_for_tests}, settings
        )
        self.client: FlaskClient = self.app.test_client()

    def close(self) -> None:
        app_state(self.app).close()

    def headers(self, org: str, role: str, **extra: str) -> dict[str, str]:
        token = mint_token(self.settings, org, role, f"{role}@{org}")
        return {"Authorization": f"Bearer {token}", **extra}

    def call(self, method: str, path: str, org: str, role: str, **kwargs: Any) -> TestResponse:
        headers = self.headers(org, role, **kwargs.pop("headers", {}))
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def services(self) -> Services:
        services = app_state(self.app).services()
        assert isinstance(services, Services)
        return services

    def run_pending(self) -> int:
        """Execute every queued run now, in this thread."""
        return RunWorker(self.services(), "test").run_pending()

    # -- the steps of the flow, each asserting its documented status -----------------------

    def open_collaboration(
        self, partners: tuple[str, ...] = (ADVERTISER,), policy: Mapping[str, Any] | None = None
    ) -> str:
        body = {
            "name": "q3 measurement",
            "partner_orgs": list(partners),
            "policy": policy or POLICY,
        }
        response = self.call("POST", "/v1/collaborations", RETAILER, "retailer_admin", json=body)
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["id"])

    def upload(
        self, cid: str, org: str, spec: Mapping[str, Any], path: Path, role: str = ""
    ) -> TestResponse:
        role = role or ("retailer_admin" if org == RETAILER else "advertiser")
        with ExitStack() as stack:
            handle = stack.enter_context(path.open("rb"))
            form = {"file": (handle, path.name), "spec": json.dumps(spec)}
            return self.call("POST", f"/v1/collaborations/{cid}/datasets", org, role, data=form)

    def register_world(self, cid: str, world: World) -> dict[str, str]:
        """Upload every dataset as its owner; dataset name -> id."""
        ids = {}
        for name, path in world.files.items():
            response = self.upload(cid, OWNERS[name], SPECS[name], path)
            assert response.status_code == 201, response.get_json()
            ids[name] = str(response.get_json()["id"])
        return ids

    def submit(self, cid: str, sql: str = TEMPLATE_SQL, org: str = ADVERTISER) -> TestResponse:
        path = f"/v1/collaborations/{cid}/templates"
        return self.call("POST", path, org, "advertiser", json={"sql": sql})

    def approved_template(self, cid: str, org: str = ADVERTISER) -> str:
        submitted = self.submit(cid, org=org)
        assert submitted.status_code == 201, submitted.get_json()
        tid = str(submitted.get_json()["id"])
        path = f"/v1/collaborations/{cid}/templates/{tid}/approve"
        approved = self.call("POST", path, RETAILER, "retailer_admin", json={"reason": "ok"})
        assert approved.status_code == 200, approved.get_json()
        for owner in approved.get_json()["awaiting_approval"]:  # crm's owner approves its use
            by_owner = self.call("POST", path, owner, "advertiser", json={"reason": "our crm"})
            assert by_owner.status_code == 200, by_owner.get_json()
        return tid

    def start_run(
        self, cid: str, tid: str, org: str = ADVERTISER, epsilon: float = 1.0, **kwargs: Any
    ) -> TestResponse:
        body = {**RUN_BODY, "template_id": tid, "privacy_loss": {"epsilon": epsilon}}
        return self.call(
            "POST", f"/v1/collaborations/{cid}/runs", org, "advertiser", json=body, **kwargs
        )


def setup_collaboration(
    api: RouteApi, tmp_path: Path, partners: tuple[str, ...] = (ADVERTISER,)
) -> tuple[str, str]:
    """A collaboration with the world registered and the template approved: (cid, tid)."""
    cid = api.open_collaboration(partners)
    api.register_world(cid, write_world(tmp_path / "world"))
    return cid, api.approved_template(cid)
