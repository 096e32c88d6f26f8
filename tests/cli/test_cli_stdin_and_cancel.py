"""Uploads from standard input (``datasets add -``, ``suppressions add -``) and cancelling a run
that a worker is already executing, through the CLI against a real server whose runs are
executed by the test (no worker threads), so the run is ``running`` when it is cancelled."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from werkzeug.serving import make_server

from cleanroom.cli import exits
from cleanroom.cli.main import cli
from cleanroom.config import Settings
from cleanroom.services.auth import mint_token
from cleanroom.services.context import build_services
from cleanroom.services.runs import execute_run
from cleanroom.web.app import create_app
from cleanroom.web.state import close_app
from tests.cli.cli_world import digest, write_inputs


@pytest.fixture
def idle_server(cli_settings: Settings) -> Iterator[str]:
    """A real server that queues runs but never executes them (``worker_threads=0``)."""
    build_services(cli_settings, migrate=True).close()
    app = create_app(None, cli_settings.replace(worker_threads=0))
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


class As:
    """``cleanroom ...`` as one principal, optionally with bytes on standard input."""

    def __init__(self, settings: Settings, url: str, org: str, role: str) -> None:
        self.url = url
        self.token = mint_token(settings, org=org, role=role, sub=f"{role}@{org}")

    def __call__(self, *args: str, stdin: bytes | None = None, ok: bool = True) -> Result:
        argv = [*args, "--url", self.url, "--token", self.token]
        result = CliRunner().invoke(cli, argv, input=stdin)
        if ok:
            assert result.exit_code == 0, result.output
        return result


def _collaboration(admin: As, policy: Path) -> str:
    return admin(
        "collaborations", "create", "--name", "stdin", "--partner", "acme", "--policy",
        str(policy), "-q",
    ).stdout.strip()  # fmt: skip


def test_datasets_add_reads_the_file_from_standard_input(
    idle_server: str, cli_settings: Settings, inputs: Path
) -> None:
    paths = write_inputs(inputs)
    admin = As(cli_settings, idle_server, "shopco", "retailer_admin")
    cid = _collaboration(admin, paths["policy"])
    add = ["datasets", "add", "--collaboration", cid, "--spec", str(paths["spec"])]
    csv_bytes = paths["data"].read_bytes()
    rows = csv_bytes.count(b"\n") - 1

    first = json.loads(admin(*add, "-", "--json", stdin=csv_bytes).stdout)
    assert first["ingest"]["rows"] == rows
    (dataset,) = [d for d in _datasets(admin, cid) if d["name"] == "exposures"]
    assert dataset["version"] == 1

    # Parquet on standard input too: the server tells the format from the bytes.
    table = _as_parquet(paths)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    second = admin(*add, "-", stdin=sink.getvalue())
    assert "exposures" in second.stdout
    (dataset,) = [d for d in _datasets(admin, cid) if d["name"] == "exposures"]
    assert (dataset["version"], dataset["rows"]) == (2, table.num_rows)

    empty = admin(*add, "-", stdin=b"", ok=False)
    assert empty.exit_code == exits.USAGE
    assert "standard input is empty" in empty.stderr
    both = admin(
        "datasets", "add", "--collaboration", cid, "--spec", "-", "-", stdin=csv_bytes, ok=False
    )
    assert both.exit_code == exits.USAGE
    assert "only one of FILE and --spec can be -" in both.stderr
    (dataset,) = [d for d in _datasets(admin, cid) if d["name"] == "exposures"]
    assert dataset["version"] == 2, "a refused upload registers nothing"


def _as_parquet(paths: dict[str, Path]) -> pa.Table:
    lines = paths["data"].read_text(encoding="utf-8").splitlines()[1:]
    emails, campaigns = zip(*(line.split(",") for line in lines[:300]), strict=True)
    return pa.table({"email": list(emails), "campaign_id": list(campaigns)})


def _datasets(who: As, cid: str) -> list[dict[str, object]]:
    listed: list[dict[str, object]] = json.loads(
        who("datasets", "list", "--collaboration", cid, "--json").stdout
    )
    return [
        {
            "name": d["name"],
            "version": d["current_version"]["version"],  # type: ignore[index]
            "rows": d["current_version"]["row_count"],  # type: ignore[index]
        }
        for d in listed
    ]


def test_suppressions_read_identifiers_from_standard_input(
    idle_server: str, cli_settings: Settings, inputs: Path
) -> None:
    paths = write_inputs(inputs)
    admin = As(cli_settings, idle_server, "shopco", "retailer_admin")
    cid = _collaboration(admin, paths["policy"])
    opted = f"email_sha256\n{digest('a@example.com')}\n{digest('b@example.com')}\n".encode()
    admin("suppressions", "add", "--collaboration", cid, "-", stdin=opted)
    count = admin("suppressions", "count", "--collaboration", cid, "--json").stdout
    assert '"count": 2' in count
    back = f"email_sha256\n{digest('a@example.com')}\n".encode()
    admin("suppressions", "remove", "--collaboration", cid, "-", stdin=back)
    assert '"count": 1' in admin("suppressions", "count", "--collaboration", cid, "--json").stdout


def test_cancelling_a_running_run_ends_it_cancelled_and_keeps_its_charge(
    idle_server: str, cli_settings: Settings, inputs: Path
) -> None:
    paths = write_inputs(inputs)
    admin = As(cli_settings, idle_server, "shopco", "retailer_admin")
    advertiser = As(cli_settings, idle_server, "acme", "advertiser")
    cid = _collaboration(admin, paths["policy"])
    admin(
        "datasets", "add", "--collaboration", cid, "--spec", str(paths["spec"]), str(paths["data"])
    )
    tid = advertiser(
        "templates", "submit", "--collaboration", cid, str(paths["template"]), "-q"
    ).stdout.strip()
    admin("templates", "approve", "--collaboration", cid, tid)
    rid = advertiser(
        "run", "--collaboration", cid, "--template", tid, "--epsilon", "1.5", "-q"
    ).stdout.strip()

    def state() -> dict[str, object]:
        shown: dict[str, object] = json.loads(
            advertiser("runs", "get", "--collaboration", cid, rid, "--json").stdout
        )
        return shown

    # A worker (another process in production: here the test, on the same store) claims it.
    svc = build_services(cli_settings.replace(worker_threads=0))
    try:
        claimed = svc.store.claim_next_queued_run("test-worker")
        assert claimed is not None
        assert claimed.id == rid
        assert state()["status"] == "running"

        cancelled = json.loads(
            advertiser("runs", "cancel", "--collaboration", cid, rid, "--json").stdout
        )
        assert cancelled["status"] == "failed"
        assert cancelled["error"]["code"] == "cancelled"

        # The worker goes on with the run it holds: it must neither release nor overwrite.
        execute_run(svc, claimed, "test-worker")
        final = state()
        assert final["status"] == "failed"
        assert final["error"]["code"] == "cancelled"  # type: ignore[index]
        names = [e.name for e in svc.store.list_audit(cid, limit=100)]
        assert "run.cancelled" in names
        assert "run.succeeded" not in names
        assert "run.failed" not in names
    finally:
        svc.close()

    report = advertiser("report", "get", "--collaboration", cid, rid, ok=False)
    assert report.exit_code != 0
    assert "reach" not in report.stdout
    # docs/api.md: a cancelled run keeps its charge, like any run that failed after it was queued.
    (line,) = json.loads(advertiser("budget", "--collaboration", cid, "--json").stdout)
    assert line["spent"]["epsilon"] == pytest.approx(1.5)
    again = advertiser("runs", "cancel", "--collaboration", cid, rid, ok=False)
    assert again.exit_code == exits.REFUSED  # 409: it has finished
