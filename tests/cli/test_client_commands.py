"""The client commands against a real server: the Flask app with its services (store, engine,
run worker threads) behind werkzeug's threaded WSGI server on loopback."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from werkzeug.serving import make_server

from cleanroom.cli import exits
from cleanroom.cli.main import cli
from cleanroom.config import Settings
from cleanroom.services.auth import mint_token
from cleanroom.services.context import build_services
from cleanroom.web.app import create_app
from cleanroom.web.state import close_app
from tests.cli.cli_world import CAMPAIGNS, digest, write_inputs


@pytest.fixture
def server_url(cli_settings: Settings) -> Iterator[str]:
    build_services(cli_settings, migrate=True).close()
    app = create_app(None, cli_settings.replace(worker_threads=1))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        close_app(app)


class Cli:
    """Invoke client commands as one principal of one server."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def __call__(self, *args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(cli, [*args, "--url", self.url, "--token", self.token])
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


def _as(settings: Settings, url: str, org: str, role: str) -> Cli:
    return Cli(url, mint_token(settings, org=org, role=role, sub=f"{role}@{org}"))


def test_submit_approve_run_and_download(
    server_url: str, cli_settings: Settings, inputs: Path
) -> None:
    paths = write_inputs(inputs)
    admin = _as(cli_settings, server_url, "shopco", "retailer_admin")
    advertiser = _as(cli_settings, server_url, "acme", "advertiser")

    collab = admin.json(
        "collaborations", "create", "--name", "q3", "--partner", "acme",
        "--policy", str(paths["policy"]),
    )  # fmt: skip
    cid = collab["id"]
    assert collab["partner_orgs"] == ["acme"]
    assert cid in admin("collaborations", "list").stdout

    added = admin("datasets", "add", "--collaboration", cid, "--spec", str(paths["spec"]),
                  str(paths["data"]))  # fmt: skip
    assert "exposures" in added.stdout
    listed = advertiser.json("datasets", "list", "--collaboration", cid)
    assert [d["name"] for d in listed] == ["exposures"]

    opted_out = inputs / "opt-outs.csv"
    opted_out.write_text(f"email_sha256\n{digest('person0@example.com')}\n", encoding="utf-8")
    suppressed = admin.json("suppressions", "add", "--collaboration", cid, str(opted_out))
    assert suppressed == {"added": 1}

    template = advertiser.json(
        "templates", "submit", "--collaboration", cid, str(paths["template"])
    )
    assert template["status"] == "pending"
    tid = template["id"]

    refused = advertiser("templates", "approve", "--collaboration", cid, tid, ok=False)
    assert refused.exit_code == exits.REFUSED
    assert refused.stderr.startswith("forbidden: ")

    approved = admin("templates", "approve", "--collaboration", cid, tid, "--reason", "ok")
    assert "approved" in approved.stdout
    assert [t["status"] for t in advertiser.json("templates", "list", "--collaboration", cid)] == [
        "approved"
    ]

    preview = advertiser.json(
        "run", "--collaboration", cid, "--template", tid, "--epsilon", "1", "--preview"
    )
    assert preview["remaining"]["epsilon"] == pytest.approx(10.0)
    # Accuracy targets and weights: the smallest epsilon for twice the half-width at 1.
    half = preview["accuracy"]["half_widths"]["reach"]
    aimed = ("run", "--collaboration", cid, "--template", tid, "--preview",
             "--target", f"reach={2 * half}", "--weight", "reach=3")  # fmt: skip
    target = advertiser.json(*aimed)["target"]
    assert target["met"] is True
    assert target["affordable"] is True
    assert target["epsilon"] == pytest.approx(0.5, rel=0.05)
    assert target["half_widths"]["reach"] <= 2 * half
    assert f"smallest epsilon {target['epsilon']:g}; the remaining budget affords it" in (
        advertiser(*aimed).stdout
    )
    bad = advertiser("run", "--collaboration", cid, "--template", tid, "--preview",
                     "--target", "reech=5", ok=False)  # fmt: skip
    assert bad.exit_code != 0
    assert "invalid_request" in bad.stderr
    assert "'reech'" in bad.stderr
    typo = advertiser("run", "--collaboration", cid, "--template", tid, "--weight", "reach=lots",
                      ok=False)  # fmt: skip
    assert typo.exit_code == 2
    assert "expected NAME=NUMBER" in typo.stderr
    unpriced = advertiser("run", "--collaboration", cid, "--template", tid, "--target", "reach=5",
                          ok=False)  # fmt: skip
    assert "--target needs --preview" in unpriced.stderr

    run = advertiser.json(
        "run", "--collaboration", cid, "--template", tid, "--epsilon", "1",
        "--param", 'campaign_ids=["c1", "c2", "c3"]', "--wait",
    )  # fmt: skip
    assert run["status"] == "succeeded"
    rid = run["id"]

    table = advertiser("report", "get", "--collaboration", cid, rid).stdout
    assert "reach" in table
    assert "±" in table
    out = inputs / "report.csv"
    advertiser("report", "get", "--collaboration", cid, rid, "--format", "csv", "-o", str(out))
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["campaign_id"] for r in rows) == sorted(CAMPAIGNS)
    document = advertiser.json("report", "get", "--collaboration", cid, rid)
    assert document["run_id"] == rid
    explained = advertiser("report", "explain", "--collaboration", cid, rid).stdout
    for heading in ("Outputs:", "Flagged cells:", "campaign_id (group key):"):
        assert heading in explained
    assert "reach (measurement):" in explained
    words = " ".join(explained.split())  # the text is wrapped for a terminal
    mechanism = document["mechanisms"][0]["mechanism"].replace("_", " ")
    assert f"{mechanism} noise of scale" in words  # the noise family, in words
    assert "declared, never estimated" in words
    explanations = advertiser.json("report", "explain", "--collaboration", cid, rid)
    assert explanations == document["explanations"]
    streamed = advertiser("report", "get", "--collaboration", cid, rid, "--format", "csv").stdout
    assert list(csv.DictReader(io.StringIO(streamed))) == rows
    parquet = inputs / "report.parquet"
    advertiser("report", "get", "--collaboration", cid, rid, "--format", "parquet", "-o",
               str(parquet))  # fmt: skip
    table = pq.read_table(parquet)
    assert table.column_names == ["campaign_id", "reach"]
    assert b"cleanroom.report" in (table.schema.metadata or {})

    budget = advertiser.json("budget", "--collaboration", cid)
    assert budget[0]["remaining"]["epsilon"] == pytest.approx(9.0)
    assert "acme" in advertiser("budget", "--collaboration", cid).stdout

    verified = admin("audit", "--collaboration", cid, "--verify").stdout
    assert verified.startswith("audit chain ok: ")
    events = admin.json("audit", "--collaboration", cid)
    names = [e["name"] for e in events]
    assert {"template.approved", "run.succeeded", "report.downloaded"} <= set(names)


def test_a_rejected_template_prints_each_violation(
    server_url: str, cli_settings: Settings, inputs: Path
) -> None:
    paths = write_inputs(inputs)
    admin = _as(cli_settings, server_url, "shopco", "retailer_admin")
    advertiser = _as(cli_settings, server_url, "acme", "advertiser")
    cid = admin.json(
        "collaborations", "create", "--name", "q", "--partner", "acme",
        "--policy", str(paths["policy"]),
    )["id"]  # fmt: skip
    admin("datasets", "add", "--collaboration", cid, "--spec", str(paths["spec"]),
          str(paths["data"]))  # fmt: skip
    bad = inputs / "leak.sql"
    bad.write_text("-- name: leak\n-- purpose: measurement\nSELECT pid FROM exposures\n")
    result = advertiser("templates", "submit", "--collaboration", cid, str(bad), ok=False)
    assert result.exit_code == exits.REFUSED
    lines = result.stderr.splitlines()
    assert lines[0].startswith("template_rejected: ")
    assert any(line.strip().split(" ")[1].startswith("3:") for line in lines[1:])


def test_dataset_sizes_are_printed_for_the_owner_org_only(
    server_url: str, cli_settings: Settings, inputs: Path
) -> None:
    paths = write_inputs(inputs)
    admin = _as(cli_settings, server_url, "shopco", "retailer_admin")
    advertiser = _as(cli_settings, server_url, "acme", "advertiser")
    cid = admin.json(
        "collaborations", "create", "--name", "q", "--partner", "acme",
        "--policy", str(paths["policy"]),
    )["id"]  # fmt: skip
    added = admin.json("datasets", "add", "--collaboration", cid, "--spec", str(paths["spec"]),
                       str(paths["data"]))  # fmt: skip
    rows = added["ingest"]["rows"]
    assert added["current_version"]["row_count"] == rows  # the uploader's org owns it
    (owned,) = admin.json("datasets", "list", "--collaboration", cid)
    assert owned["current_version"]["max_rows_per_person"] == 2
    assert f"rows: {rows}" in admin("datasets", "add", "--collaboration", cid, "--spec",
                                    str(paths["spec"]), str(paths["data"])).stdout  # fmt: skip
    (seen,) = advertiser.json("datasets", "list", "--collaboration", cid)
    assert seen["name"] == "exposures"
    assert set(seen["current_version"]) == {
        "dataset_id", "version", "created_at", "expires_at", "purged_at",
    }  # fmt: skip
    table = advertiser("datasets", "list", "--collaboration", cid).stdout
    assert "(owner only)" in table
    assert "(owner only)" not in admin("datasets", "list", "--collaboration", cid).stdout
    for event in advertiser.json("audit", "--collaboration", cid):
        if event["name"] == "dataset.registered":
            assert set(event["details"]) == {"dataset_id", "name", "kind", "version"}


def test_errors_are_code_and_detail_on_stderr(server_url: str, cli_settings: Settings) -> None:
    nobody = Cli(server_url, "not-a-token")
    result = nobody("budget", "--collaboration", "col_x", ok=False)
    assert result.exit_code == exits.REFUSED
    assert result.stderr.startswith("invalid_token: ")
    stranger = _as(cli_settings, server_url, "other", "advertiser")
    missing = stranger("budget", "--collaboration", "col_missing", ok=False)
    assert missing.exit_code == exits.NOT_FOUND
    assert missing.stderr.startswith("not_found: ")
    as_json = stranger("runs", "list", "--collaboration", "col_missing", "--json", ok=False)
    assert as_json.exit_code == exits.NOT_FOUND
    assert as_json.stdout == ""
    problem = json.loads(as_json.stderr)
    assert (problem["status"], problem["code"]) == (404, "not_found")
    unreachable = Cli("http://127.0.0.1:9", "t")("collaborations", "list", ok=False)
    assert unreachable.exit_code == exits.SERVER
    assert unreachable.stderr.startswith("unreachable: ")


def test_collaborations_evolve_from_the_command_line(
    server_url: str, cli_settings: Settings, inputs: Path
) -> None:
    paths = write_inputs(inputs)
    admin = _as(cli_settings, server_url, "shopco", "retailer_admin")
    advertiser = _as(cli_settings, server_url, "acme", "advertiser")
    cid = admin.json(
        "collaborations", "create", "--name", "q3", "--partner", "acme",
        "--policy", str(paths["policy"]),
    )["id"]  # fmt: skip
    shown = admin("collaborations", "show", "--collaboration", cid).stdout
    assert "status: open" in shown
    assert 'partner_orgs: ["acme"]' in shown

    tightened = admin(
        "collaborations",
        "update",
        "--collaboration",
        cid,
        "--set",
        "min_users_per_row=60",
        "--set",
        "max_epsilon_per_run=1.5",
    )
    assert "tightens" in tightened.stdout
    assert "loosens" not in tightened.stdout
    loose = ("collaborations", "update", "--collaboration", cid, "--set", "min_users_per_row=20")
    refused = admin(*loose, ok=False)
    assert refused.stderr.startswith("policy_loosening: ")
    loosened = admin(*loose, "--allow-loosening", "--reason", "pilot")
    assert "loosens" in loosened.stdout
    assert "weakens the privacy guarantee" in loosened.stderr
    assert advertiser.json("collaborations", "show", "--collaboration", cid)["policy"][
        "min_users_per_row"] == 20  # fmt: skip

    added = admin.json("collaborations", "add-partner", "--collaboration", cid, "--org", "beta",
                       "--epsilon", "4")  # fmt: skip
    assert added["budget"]["total"]["epsilon"] == 4.0
    raised = admin("budget", "raise", "--collaboration", cid, "--org", "acme",
                   "--add-epsilon", "2", "--reason", "q4")  # fmt: skip
    assert "weakens the privacy guarantee already given" in raised.stderr
    assert "12" in raised.stdout
    assert advertiser.json("budget", "show", "--collaboration", cid)[0]["total"]["epsilon"] == 12
    assert advertiser.json("budget", "--collaboration", cid)[0]["total"]["epsilon"] == 12
    no_change = admin("budget", "raise", "--collaboration", cid, "--org", "acme", ok=False)
    assert no_change.exit_code == 2  # a usage error: neither --add-* nor --to-*

    removed = admin.json("collaborations", "remove-partner", "--collaboration", cid,
                         "--org", "beta", "--purge-data")  # fmt: skip
    assert removed["membership"]["ended_at"] is not None
    ended = admin.json("collaborations", "update", "--collaboration", cid, "--ends-at", "now")
    assert ended["collaboration"]["status"] == "ended"
    names = [e["name"] for e in admin.json("audit", "--collaboration", cid)]
    for name in ("collaboration.updated", "partner.added", "budget.set", "budget.raised",
                 "partner.removed"):  # fmt: skip
        assert name in names
    assert names.count("collaboration.updated") == 3
    assert admin("audit", "--collaboration", cid, "--verify").exit_code == 0
