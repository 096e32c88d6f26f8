"""The command line as a shell: subcommands load lazily, parameters are typed by the template,
each kind of failure has its exit status, new everyday commands work against a real server,
``datasets init-spec`` drafts (never applies) a spec, and a cancelled run releases nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cleanroom.cli import exits
from cleanroom.cli.main import COMMANDS, cli
from cleanroom.client import ApiClient, ApiError
from cleanroom.config import Settings
from cleanroom.errors import DatasetInvalid
from cleanroom.services.context import build_services
from cleanroom.services.runs import RunWorker, cancel_run
from cleanroom.types import DatasetSpec
from tests.cli.cli_world import ADVERTISER, digest, queue_run, write_inputs
from tests.cli.test_client_commands import _as, server_url

__all__ = ["server_url"]
HEAVY = ("sqlglot", "duckdb", "sqlalchemy", "flask", "requests", "pyarrow", "opendp")


def test_top_level_help_imports_no_subcommand_and_summaries_are_current() -> None:
    probe = (
        "import sys\nfrom cleanroom.cli.main import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    ctx = click.Context(cli)
    for name, (_, _, summary) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None
        assert command.get_short_help_str(limit=80) == summary, name


def _collaboration(url: str, settings: Settings, inputs: Path) -> tuple[str, str, dict[str, Path]]:
    paths = write_inputs(inputs)
    admin = _as(settings, url, "shopco", "retailer_admin")
    advertiser = _as(settings, url, "acme", "advertiser")
    cid = admin("collaborations", "create", "--name", "q", "--partner", "acme", "--policy",
                str(paths["policy"]), "-q").stdout.strip()  # fmt: skip
    admin("datasets", "add", "--collaboration", cid, "--spec", str(paths["spec"]),
          str(paths["data"]))  # fmt: skip
    tid = advertiser("templates", "submit", "--collaboration", cid, str(paths["template"]),
                     "-q").stdout.strip()  # fmt: skip
    admin("templates", "approve", "--collaboration", cid, tid)
    return cid, tid, paths


def test_parameters_are_typed_and_a_bad_one_is_a_bad_parameter(
    server_url: str, cli_settings: Settings, inputs: Path
) -> None:
    cid, tid, _ = _collaboration(server_url, cli_settings, inputs)
    advertiser = _as(cli_settings, server_url, "acme", "advertiser")
    run = ["run", "--collaboration", cid, "--template", tid]
    preview = advertiser.json(*run, "--param", "campaign_ids=c1,c2", "--preview")
    assert preview["remaining"]["epsilon"] == pytest.approx(10.0)
    bad = advertiser(*run, "--param", "nope=1", "--param", "campaign_ids=", "--preview", ok=False)
    assert bad.exit_code == exits.BAD_PARAMETER
    assert bad.stderr.startswith("invalid_parameter: parameter 'nope' is not declared")
    assert "campaign_ids' must be a comma-separated list" in bad.stderr
    # The server says the same (never template_rejected), and charges nothing.
    client = ApiClient(server_url, advertiser.token)
    with pytest.raises(ApiError) as caught:
        client.create_run(cid, tid, {"campaign_ids": "c1"}, 1.0)
    assert (caught.value.status, caught.value.code) == (400, "invalid_parameter")
    assert caught.value.body["problems"] == ["parameter 'campaign_ids' must be a non-empty list"]
    assert client.budget(cid)[0]["spent"]["epsilon"] == 0.0


def test_everyday_commands(server_url: str, cli_settings: Settings, inputs: Path) -> None:
    cid, tid, _ = _collaboration(server_url, cli_settings, inputs)
    admin = _as(cli_settings, server_url, "shopco", "retailer_admin")
    advertiser = _as(cli_settings, server_url, "acme", "advertiser")
    assert advertiser.json("whoami")["org"] == "acme"
    shown = advertiser("templates", "show", "--collaboration", cid, tid).stdout
    assert "parameters: campaign_ids list[str]" in shown
    assert "COUNT(DISTINCT pid) AS reach" in shown
    assert advertiser("templates", "diff", "--collaboration", cid, tid, tid).stdout.startswith(
        "(the SQL is the same)"
    )
    rid = advertiser("run", "--collaboration", cid, "--template", tid, "--wait", "-q")
    rid_text = rid.stdout.strip()
    assert [r["id"] for r in advertiser.json("runs", "list", "--collaboration", cid)] == [rid_text]
    assert advertiser.json("runs", "get", "--collaboration", cid, rid_text)["status"] == "succeeded"
    late = advertiser("runs", "cancel", "--collaboration", cid, rid_text, ok=False)
    assert late.exit_code == exits.REFUSED  # 409: it finished
    streamed = advertiser("report", "get", "--collaboration", cid, rid_text, "--format", "csv",
                          "-o", "-").stdout  # fmt: skip
    assert streamed.replace("\r\n", "\n").startswith("campaign_id,reach,reach_lo,reach_hi\n")

    opted = inputs / "opt-outs.csv"
    opted.write_text(f"email_sha256\n{digest('person0@example.com')}\n", encoding="utf-8")
    admin("suppressions", "add", "--collaboration", cid, str(opted))
    assert admin.json("suppressions", "count", "--collaboration", cid) == {"count": 1}
    assert admin.json("suppressions", "remove", "--collaboration", cid, str(opted)) == {
        "removed": 1
    }
    assert admin.json("suppressions", "count", "--collaboration", cid) == {"count": 0}
    history = admin.json("suppressions", "list", "--collaboration", cid)
    assert [e["name"] for e in history] == ["suppression.added", "suppression.removed"]
    refused = advertiser("suppressions", "count", "--collaboration", cid, ok=False)
    assert refused.exit_code == exits.REFUSED

    (dataset,) = admin.json("datasets", "list", "--collaboration", cid)
    assert admin.json("datasets", "show", "--collaboration", cid, dataset["id"])["name"] == (
        "exposures"
    )
    admin("datasets", "delete", "--collaboration", cid, dataset["id"], "--yes")
    gone = admin("runs", "get", "--collaboration", cid, "run_missing", ok=False)
    assert gone.exit_code == exits.NOT_FOUND


def test_init_spec_drafts_and_reports_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Email Address,pid,email,phone_sha256,amount\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["datasets", "init-spec", str(bad)])
    assert result.exit_code == exits.FAILED
    problems = [line for line in result.stderr.splitlines() if line.startswith("problem: ")]
    assert len(problems) == 3  # a bad name, a reserved name, two identifier candidates
    assert "several identifier candidates (email, phone_sha256)" in result.stderr

    good = tmp_path / "transactions.csv"
    good.write_text("email,txn_ts,brand,amount_cents,consent_measurement,postal_code\n")
    drafted = CliRunner().invoke(cli, ["datasets", "init-spec", str(good)])
    assert drafted.exit_code == 0, drafted.output
    draft = json.loads(drafted.stdout)
    roles = {name: column["role"] for name, column in draft["columns"].items()}
    assert roles == {
        "email": "identifier", "txn_ts": "timestamp", "brand": "dimension",
        "amount_cents": "metric", "consent_measurement": "consent", "postal_code": "blocked",
    }  # fmt: skip
    with pytest.raises(DatasetInvalid, match="unknown dataset spec key"):
        DatasetSpec.from_dict(draft)  # never applied before a person reviewed it
    del draft["review"]
    with pytest.raises(DatasetInvalid, match="bounds must be"):
        DatasetSpec.from_dict(draft)
    draft["columns"]["amount_cents"]["bounds"] = [0, 50000]
    assert DatasetSpec.from_dict(draft).name == "transactions"


def test_a_cancelled_queued_run_never_executes_and_keeps_its_charge(
    settings: Settings, tmp_path: Path
) -> None:
    svc = build_services(settings.replace(worker_threads=0), migrate=True)
    try:
        cid, rid = queue_run(svc, tmp_path / "inputs")
        cancelled = cancel_run(svc, ADVERTISER, cid, rid)
        assert (cancelled.status, cancelled.error_code) == ("failed", "cancelled")
        assert RunWorker(svc, "w").run_pending() == 0
        assert svc.store.get_budget_line(cid, "acme").spent_epsilon == pytest.approx(1.0)
        names = [e.name for e in svc.store.list_audit(cid, limit=100)]
        assert names[-1] == "run.cancelled"
    finally:
        svc.close()
