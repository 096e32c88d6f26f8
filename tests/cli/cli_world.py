"""A tiny collaboration for the CLI tests: one exposures dataset of hashed emails, a policy, a
template that passes it, and a helper that puts everything in a store up to a queued run."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cleanroom.config import Settings
from cleanroom.services.collaborations import create_collaboration
from cleanroom.services.context import Services
from cleanroom.services.datasets import register_dataset
from cleanroom.services.requests import DatasetRegistration, RunRequest, TemplateSubmission
from cleanroom.services.runs import create_run
from cleanroom.services.templates import decide_template, submit_template
from cleanroom.types import Principal

RETAILER = Principal(sub="rita", org="shopco", role="retailer_admin")
ADVERTISER = Principal(sub="ana", org="acme", role="advertiser")
CAMPAIGNS = ("c1", "c2", "c3")

POLICY: dict[str, Any] = {
    "epsilon_budget": 10.0,
    "delta_budget": 1e-6,
    "min_users_per_row": 10,
    "max_groups_per_user": 3,
    "max_count_per_user": 10,
    "max_epsilon_per_run": 2.0,
    "budget_refresh": None,
    "purposes": ["measurement"],
}

SPEC: dict[str, Any] = {
    "name": "exposures",
    "kind": "personal",
    "max_rows_per_user": 50,
    "retention_days": 30,
    "purposes": ["measurement"],
    "columns": {
        "email": {"role": "identifier"},
        "campaign_id": {"role": "dimension", "values": list(CAMPAIGNS)},
    },
}

TEMPLATE = """\
-- name: reach_by_campaign
-- description: People reached per campaign
-- purpose: measurement
-- param: campaign_ids list[str] = ["c1", "c2", "c3"]
SELECT campaign_id, COUNT(DISTINCT pid) AS reach
FROM exposures
WHERE campaign_id IN :campaign_ids
GROUP BY campaign_id
"""


def digest(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


def write_inputs(folder: Path, people: int = 400) -> dict[str, Path]:
    """exposures.csv (hashed), spec.json, policy.json and template.sql under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["email,campaign_id"]
    for i in range(people):
        for j, campaign in enumerate(CAMPAIGNS):
            if (i + j) % 2 == 0:
                lines.append(f"{digest(f'person{i}@example.com')},{campaign}")
    paths = {
        "data": folder / "exposures.csv",
        "spec": folder / "spec.json",
        "policy": folder / "policy.json",
        "template": folder / "reach_by_campaign.sql",
    }
    paths["data"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    paths["spec"].write_text(json.dumps(SPEC), encoding="utf-8")
    paths["policy"].write_text(json.dumps(POLICY), encoding="utf-8")
    paths["template"].write_text(TEMPLATE, encoding="utf-8")
    return paths


def queue_run(svc: Services, folder: Path) -> tuple[str, str]:
    """A collaboration with the dataset, the approved template and one queued run: ids."""
    paths = write_inputs(folder)
    collab = create_collaboration(svc, RETAILER, "cli-test", ["acme"], POLICY)
    register_dataset(svc, RETAILER, collab.id, paths["data"], DatasetRegistration.from_json(SPEC))
    template = submit_template(
        svc, ADVERTISER, collab.id, TemplateSubmission.from_json({"sql": TEMPLATE})
    )
    decide_template(svc, RETAILER, collab.id, template.id, "approve")
    run, _ = create_run(
        svc,
        ADVERTISER,
        collab.id,
        RunRequest.from_json({"template_id": template.id, "privacy_loss": {"epsilon": 1.0}}),
    )
    return collab.id, run.id


JWT_SECRET = "cli-test-jwt-secret-0123456789-abcdefghij"


def command_env(settings: Settings) -> dict[str, str | None]:
    """``CLEANROOM_*`` variables for ``settings`` (others in the environment are cleared)."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CLEANROOM_")}
    env.update(
        CLEANROOM_DATA_DIR=str(settings.data_dir),
        CLEANROOM_DATABASE_URL=settings.database_url,
        CLEANROOM_SECRET_KEY=settings.secret_key,
        CLEANROOM_JWT_SECRET=settings.jwt_secret,
    )
    return env
