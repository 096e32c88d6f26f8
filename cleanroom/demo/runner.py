"""``cleanroom demo``: the whole product end to end on a synthetic retailer and advertiser.

In a fresh temporary data directory (DuckDB + SQLite) it generates the demo world, hashes the
raw emails as each partner would (the code behind ``cleanroom hash``), starts the real server
(``cleanroom serve``: gunicorn on a free loopback port, run workers in-process) and drives it over
HTTP: the retailer admin opens the collaboration and registers its datasets, the advertiser
registers its CRM list and spend and submits every shipped template, the admin approves them, the
advertiser previews, runs and downloads each. Every released cell is printed beside the exact
answer (the template's plain SQL on the hashed data) and its 95% interval; reports (JSON, CSV)
and one chart per report go to the output directory. The server is always stopped.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cleanroom.client import ApiClient, ApiError, ReportFormat
from cleanroom.config import Settings, load_settings
from cleanroom.demo.activity import CAMPAIGNS
from cleanroom.demo.charts import write_chart
from cleanroom.demo.exact import View, exact_tables, exact_views
from cleanroom.demo.report_view import (
    ReportComparison,
    compare_report,
    comparison_table,
    format_number,
    summary_line,
)
from cleanroom.demo.specs import (
    ADVERTISER_ORG,
    DEFAULT_RUN_EPSILON,
    DEMO_POLICY,
    RETAILER_ORG,
    demo_dataset_specs,
)
from cleanroom.demo.uploads import hash_world
from cleanroom.demo.world import DEFAULT_SHOPPERS, World, generate_world
from cleanroom.lift_view import campaign_label, exact_effects, lift_lines
from cleanroom.services.auth import mint_token
from cleanroom.services.context import build_services
from cleanroom.services.exact import ExactAnswer, exact_answer

QUERIES_DIR = Path(__file__).resolve().parents[2] / "queries"  # in a source checkout
FAIRNESS_TEMPLATE = "audience_composition"
FAIRNESS_EPSILON = DEFAULT_RUN_EPSILON
KPI_TEMPLATE, KPI_CAMPAIGN = "campaign_kpis", "c1"
SERVER_START_SECONDS = 90.0
RUN_TIMEOUT_SECONDS = 300.0
Echo = Callable[[str], None]
# A context manager per run whose value receives progress fractions (the CLI draws a bar).
Progress = Callable[[str], AbstractContextManager[Callable[[float], None]]]


class DemoFailed(Exception):
    """The demo could not finish; the message says where."""


@dataclass(frozen=True)
class DemoOptions:
    output: Path = Path("demo-output")
    shoppers: int = DEFAULT_SHOPPERS
    seed: int = 7
    # Per run, what `cleanroom run` and the console spend by default; the fourteen templates and
    # the four fairness runs fit DEMO_POLICY's budget.
    epsilon: float = DEFAULT_RUN_EPSILON
    delta: float | None = None  # the server's default: a tenth of the delta budget, when needed
    queries: Path | None = None  # None: the checkout's queries/, else ./queries
    workdir: Path | None = None  # None: a fresh temporary directory, removed afterwards
    engine: str = "duckdb"  # the server's query engine (CLEANROOM_ENGINE): duckdb or spark
    serve: bool = False  # keep the server (and its console) up at the end until interrupted


@dataclass(frozen=True)
class DemoResult:
    comparisons: tuple[ReportComparison, ...]
    remaining: Mapping[str, Any]
    audit_ok: bool
    audit_events: int
    seconds: float
    files: tuple[Path, ...] = field(default=())
    fairness: Mapping[str, list[str]] = field(default_factory=dict)  # campaign -> flagged groups
    # campaign -> estimate -> value, interval, significant, exact (intention-to-treat), covered
    lift: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def within(self) -> int:
        return sum(c.within for c in self.comparisons)

    @property
    def compared(self) -> int:
        return sum(c.compared for c in self.comparisons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": summary_line(self.within, self.compared),
            "within": self.within,
            "compared": self.compared,
            "remaining": dict(self.remaining),
            "audit": {"ok": self.audit_ok, "events": self.audit_events},
            "seconds": round(self.seconds, 1),
            "reports": [c.to_dict() for c in self.comparisons],
            "files": [str(f) for f in self.files],
            "fairness": {campaign: list(groups) for campaign, groups in self.fairness.items()},
            "lift": {campaign: dict(found) for campaign, found in self.lift.items()},
        }


def _no_progress(label: str) -> AbstractContextManager[Callable[[float], None]]:
    return nullcontext(lambda fraction: None)


def run_demo(
    options: DemoOptions, echo: Echo = print, progress: Progress = _no_progress
) -> DemoResult:
    """Run the demo; raises :class:`DemoFailed` or :class:`ApiError` when a step fails."""
    started = time.monotonic()
    with _workdir(options.workdir) as work:
        echo(f"generating the demo world ({options.shoppers:,} shoppers, seed {options.seed})")
        world = generate_world(work / "world", seed=options.seed, shoppers=options.shoppers)
        background = ThreadPoolExecutor(max_workers=1)
        # Hashing (in processes of its own) while the server starts.
        hashed: list[str] = []  # its lines, printed once the server is up
        hashing = background.submit(hash_world, world, work / "hashed", hashed.append)
        env = _server_env(work / "data", options.engine)
        settings = load_settings(env=env)
        build_services(settings, migrate=True).close()
        sources = _read_templates(options.queries or default_queries_dir())
        with background, _server(env, work, echo) as url:
            uploads = hashing.result()
            echo("\n".join(hashed))
            # The exact answers' tables are prepared here while the server ingests and runs.
            views = exact_views(set(DEMO_POLICY["purposes"]))
            tables_ready = background.submit(exact_tables, world, uploads, work / "exact", views)
            admin = ApiClient(url, _token(settings, RETAILER_ORG, "retailer_admin"), timeout=60)
            advertiser = admin.with_token(_token(settings, ADVERTISER_ORG, "advertiser"))
            cid, templates = _set_up(admin, advertiser, world, uploads, sources, echo)
            approved = dict(_approved(admin, advertiser, cid, templates, echo))
            # Every run is queued first, the server works through them, each result is
            # printed in order.
            queued = {name: _start_run(advertiser, cid, name, template_id, options)
                      for name, template_id in approved.items()}  # fmt: skip
            checks = {}
            if FAIRNESS_TEMPLATE in approved:
                checks = _start_fairness_runs(advertiser, cid, approved[FAIRNESS_TEMPLATE])
            tables = tables_ready.result()
            exact_settings = settings.replace(data_dir=work / "exact")
            comparisons: list[ReportComparison] = []
            files: list[Future[Path]] = []
            lift: dict[str, dict[str, Any]] = {}
            for name, (run_id, preview_line) in queued.items():
                echo(preview_line)
                report = _finish_run(advertiser, cid, name, run_id, progress)
                text, view = templates[name]
                exact = exact_answer(exact_settings, text, tables[view])
                comparison = compare_report(name, report, exact)
                echo(f"\n{name} (epsilon {options.epsilon:g}): released vs exact")
                echo(comparison_table(comparison))
                if report.get("lift"):
                    lift = _lift_check(report["lift"], exact, echo)
                if report.get("opt_in"):
                    _opt_in_lines(report["opt_in"], echo)
                files += _write_outputs(
                    advertiser, cid, report, comparison, options.output, background
                )
                comparisons.append(comparison)
            fairness = _fairness_check(advertiser, cid, checks, echo, progress) if checks else {}
            if KPI_TEMPLATE in approved:
                _kpis_view(admin, advertiser, cid, echo)
            remaining = _print_budget(advertiser, cid, echo)
            verified = admin.audit_verify(cid)
            echo(f"audit chain: {'ok' if verified.get('ok') else 'BROKEN'} "
                 f"({verified.get('events')} events)")  # fmt: skip
            if options.serve:
                _keep_serving(url, settings, echo)
    result = DemoResult(
        tuple(comparisons), remaining, bool(verified.get("ok")), int(verified.get("events", 0)),
        time.monotonic() - started, tuple(f.result() for f in files), fairness, lift,
    )  # fmt: skip
    options.output.mkdir(parents=True, exist_ok=True)
    summary = options.output / "summary.json"
    summary.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    echo(f"\nreports, charts and summary.json in {options.output}/")
    echo(summary_line(result.within, result.compared))
    return result


@contextmanager
def _workdir(given: Path | None) -> Iterator[Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    path = Path(tempfile.mkdtemp(prefix="cleanroom-demo-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def default_queries_dir() -> Path:
    """The shipped templates: ``queries/`` of the source checkout, else of the working directory
    (an installed package, e.g. the Docker image's ``/app``)."""
    return QUERIES_DIR if QUERIES_DIR.is_dir() else Path("queries")


def _read_templates(folder: Path) -> dict[str, str]:
    """File stem -> file text for every ``*.sql`` file of ``folder`` (the server reads the
    ``-- key: value`` headers, and its answer says each template's name and purpose)."""
    files = sorted(folder.glob("*.sql"))
    if not files:
        raise DemoFailed(f"no templates (*.sql) in {folder}; run the demo from a source checkout")
    return {path.stem: path.read_text(encoding="utf-8") for path in files}


def _server_env(data_dir: Path, engine: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANROOM_")}
    if "CLEANROOM_CONFIG" in os.environ:
        env["CLEANROOM_CONFIG"] = os.environ["CLEANROOM_CONFIG"]
    env.update(
        CLEANROOM_DATA_DIR=str(data_dir),
        CLEANROOM_SECRET_KEY=secrets.token_urlsafe(32),
        CLEANROOM_JWT_SECRET=secrets.token_urlsafe(48),
        CLEANROOM_ENGINE=engine,
        CLEANROOM_WORKER_THREADS="2",
        CLEANROOM_GUNICORN_WORKERS="1",
        CLEANROOM_LOG_LEVEL="warning",
        CLEANROOM_HOST="127.0.0.1",
        CLEANROOM_PORT=str(_free_port()),
    )
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(env: Mapping[str, str], work: Path, echo: Echo) -> Iterator[str]:
    """``cleanroom serve`` as a child process; stopped (SIGTERM, then SIGKILL) on the way out."""
    url = f"http://{env['CLEANROOM_HOST']}:{env['CLEANROOM_PORT']}"
    log_path = work / "server.log"
    argv = [sys.executable, "-c", "from cleanroom.cli.main import main; main()", "serve"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, env=dict(env), cwd=work, stdout=log, stderr=log)  # noqa: S603
    try:
        _wait_until_ready(process, ApiClient(url, timeout=2), log_path)
        echo(f"server (gunicorn, {env['CLEANROOM_ENGINE']} engine) listening on {url}")
        echo(f"web console: {url}/console/ (cleanroom demo --serve keeps it up at the end)")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        echo("server stopped")


def _wait_until_ready(process: subprocess.Popen[bytes], probe: ApiClient, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise DemoFailed(f"the server exited during start-up:\n{tail}")
            try:
                probe.readyz()
                return
            except ApiError:
                time.sleep(0.2)
    finally:
        probe.close()
    raise DemoFailed(f"the server did not become ready within {SERVER_START_SECONDS:g} s")


CONSOLE_TOKEN_SECONDS = 8 * 3600


def _keep_serving(url: str, settings: Settings, echo: Echo) -> None:
    """Leave the server up for a person to click through the demo's collaboration in the
    console, with a sign-in token per role, until Ctrl-C."""
    echo(f"\nthe web console stays up at {url}/console/ until Ctrl-C; sign in with a token:")
    for org, role in ((RETAILER_ORG, "retailer_admin"), (ADVERTISER_ORG, "advertiser")):
        token = mint_token(settings, org=org, role=role, sub=f"demo-{role}@{org}",
                           ttl=CONSOLE_TOKEN_SECONDS)  # fmt: skip
        echo(f"  {role} of {org}:\n    {token}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        echo("")


def _token(settings: Settings, org: str, role: str) -> str:
    return mint_token(settings, org=org, role=role, sub=f"demo-{role}@{org}", ttl=3600)


def _set_up(
    admin: ApiClient,
    advertiser: ApiClient,
    world: World,
    uploads: Mapping[str, Path],
    files: Mapping[str, str],
    echo: Echo,
) -> tuple[str, dict[str, tuple[str, View]]]:
    """Collaboration, datasets (each by its owner) and submitted templates: the collaboration id
    and template name -> (file text, (purpose, consent analysis's dataset or None)), as the
    server read them from the headers."""
    collab = admin.create_collaboration("demo: retailer x acme", [ADVERTISER_ORG], DEMO_POLICY)
    cid = str(collab["id"])
    echo(f"\nretailer admin created collaboration {cid}")
    clients = {RETAILER_ORG: admin, ADVERTISER_ORG: advertiser}
    for name, spec in demo_dataset_specs().items():
        owner = world.owners[name]
        registered = clients[owner].register_dataset(cid, uploads[name], spec)
        rows = (registered.get("ingest") or {}).get("rows", "?")
        echo(f"  {owner} registered {name} ({rows:,} rows)" if isinstance(rows, int)
             else f"  {owner} registered {name}")  # fmt: skip
    templates = {}
    for stem, text in files.items():
        # A file's header is authoritative; name and purpose here only fill in a missing one.
        submitted = advertiser.submit_template(cid, text, name=stem, purpose="measurement")
        name = str(submitted["name"])
        consent = (submitted.get("analysis") or {}).get("consent")
        templates[name] = (text, (str(submitted["purpose"]), consent))
        echo(f"  {ADVERTISER_ORG} submitted template {name}: {submitted.get('status')}")
    return cid, templates


def _approved(
    admin: ApiClient,
    advertiser: ApiClient,
    cid: str,
    templates: Mapping[str, tuple[str, View]],
    echo: Echo,
) -> list[tuple[str, str]]:
    """The admin approves every pending template, and the advertiser those that read its own
    personal data (its CRM): every data owner approves. (name, template id) in file order."""
    by_name = {t["name"]: t for t in advertiser.list_templates(cid) if t.get("status") == "pending"}
    approved = []
    by_owner = 0
    for name in templates:
        template = by_name.get(name)
        if template is None:
            raise DemoFailed(f"template {name} was not accepted by the server")
        decided = admin.approve_template(cid, template["id"], reason="demo")
        if ADVERTISER_ORG in decided.get("awaiting_approval", []):
            advertiser.approve_template(cid, template["id"], reason="our CRM may serve this")
            by_owner += 1
        approved.append((name, str(template["id"])))
    echo(f"retailer admin approved {len(approved)} templates, {ADVERTISER_ORG} {by_owner} "
         "reading its CRM")  # fmt: skip
    return approved


def _lift_check(
    lift: Mapping[str, Any], exact: ExactAnswer, echo: Echo
) -> dict[str, dict[str, Any]]:
    """Print each campaign's released lift, incremental buyers and sales with their significance
    beside the exact intention-to-treat effects of the demo world; the comparison by campaign."""
    keys = [k for k in exact.columns if k not in (lift["cell"], "users", "buyers", "sales")]
    truth = exact_effects(lift, exact.rows, keys)
    echo("holdout lift per campaign (95% intervals of DP noise and sampling error):")
    echo("\n".join("  " + line for line in lift_lines(lift, truth)))
    found: dict[str, dict[str, Any]] = {}
    for campaign in lift.get("campaigns") or []:
        label = campaign_label(campaign.get("group") or {})
        for name, value in truth.get(label, {}).items():
            estimate = campaign.get(name) or {}
            interval = estimate.get("interval")
            covered = interval is not None and interval[0] <= value <= interval[1]
            found.setdefault(label, {})[name] = {**estimate, "exact": value, "covered": covered}
    return found


def _start_fairness_runs(advertiser: ApiClient, cid: str, template_id: str) -> dict[str, str]:
    """The bias test of every campaign's delivery queued: audience_composition once per
    campaign, at FAIRNESS_EPSILON each; campaign -> run id."""
    return {
        c.campaign_id: _create_run(
            advertiser, cid, template_id, {"campaign_id": c.campaign_id}, FAIRNESS_EPSILON
        )
        for c in CAMPAIGNS
    }


def _fairness_check(
    advertiser: ApiClient, cid: str, runs: Mapping[str, str], echo: Echo, progress: Progress
) -> dict[str, list[str]]:
    """Each campaign's reach ratios by age band; the groups each run flagged for review."""
    echo(f"\nfairness: each campaign's reach by age band (epsilon {FAIRNESS_EPSILON:g} per run)")
    flagged: dict[str, list[str]] = {}
    for campaign, run_id in runs.items():
        report = _finish_run(advertiser, cid, FAIRNESS_TEMPLATE, run_id, progress)
        found = report.get("fairness") or {}
        flagged[campaign] = list(found.get("flagged_groups") or [])
        reached = next(a for a in found.get("audiences", []) if a["audience"] == "reached")
        ratios = ", ".join(
            f"{g['group']} {g['ratio']:.2f} [{g['ratio_interval'][0]:.2f}, "
            f"{g['ratio_interval'][1]:.2f}]"
            for g in reached["groups"]
            if g["ratio"] is not None and g["ratio_interval"] is not None
        )
        verdict = (
            f"FLAGGED for review ({', '.join(flagged[campaign])})"
            if flagged[campaign]
            else "not flagged"
        )
        echo(f"  {campaign}: reach ratio by age band {ratios}: {verdict}")
    return flagged


def _kpis_view(admin: ApiClient, advertiser: ApiClient, cid: str, echo: Echo) -> None:
    """The ``kpis`` report of one campaign as the advertiser reads it (released values, no new
    privacy cost), and the retailer's own exact opt-in rates (governance KPIs)."""
    found = advertiser.campaign_kpis(cid, KPI_CAMPAIGN)
    echo(f"\nkpis of campaign {KPI_CAMPAIGN} (released by the campaign_kpis run, no extra cost):")
    values = found["campaign"]["values"]
    for name in ("conversion_rate", "aov", "repeat_rate", "value_90d_per_exposed"):
        cell = values.get(name) or {}
        bounds = cell.get("interval")
        shown = (
            "not estimable"
            if bounds is None
            else (f"[{format_number(bounds[0])}, {format_number(bounds[1])}]")
        )
        echo(f"  {name} {format_number(cell.get('value'))} {shown}")
    for item in admin.governance_kpis(cid).get("opt_in") or []:
        rate = item.get("people_rate")
        echo(f"  retailer's opt-in rate, {item['dataset']} for {item['purpose']}: "
             f"{'-' if rate is None else f'{rate:.1%}'} of {item['people']:,} people (exact, "
             "the retailer's own data)")  # fmt: skip


def _opt_in_lines(opt_in: Mapping[str, Any], echo: Echo) -> None:
    """The opt-in rate a partner's consent analysis released (the report's ``opt_in``)."""
    for entry in opt_in.get("groups") or []:
        rate, bounds = entry.get("rate"), entry.get("interval")
        shown = "-" if rate is None else f"{rate:.1%}"
        interval = "" if bounds is None else f" [{bounds[0]:.1%}, {bounds[1]:.1%}]"
        echo(f"  opt-in rate, {opt_in['dataset']} for {opt_in['purpose']}: {shown}{interval} "
             f"(differentially private, charged to {ADVERTISER_ORG}'s budget)")  # fmt: skip


def _start_run(
    advertiser: ApiClient, cid: str, name: str, template_id: str, options: DemoOptions
) -> tuple[str, str]:
    """Preview a template's run and queue it: the run id and the preview's line to print."""
    preview = advertiser.preview_run(cid, template_id, {}, options.epsilon, options.delta)
    expected = (preview.get("accuracy") or {}).get("half_widths") or {}
    shown = ", ".join(f"{k} ±{v:,.4g}" for k, v in expected.items()) or "per row"
    run_id = _create_run(advertiser, cid, template_id, {}, options.epsilon, options.delta)
    return run_id, f"\npreview {name}: expected 95% half-widths {shown}"


def _create_run(
    advertiser: ApiClient,
    cid: str,
    template_id: str,
    params: Mapping[str, Any],
    epsilon: float,
    delta: float | None = None,
) -> str:
    run = advertiser.create_run(
        cid, template_id, dict(params), epsilon, delta, idempotency_key=str(uuid.uuid4())
    )
    return str(run["id"])


def _finish_run(
    advertiser: ApiClient, cid: str, name: str, run_id: str, progress: Progress
) -> dict[str, Any]:
    """Wait for a queued run (a progress bar) and fetch its report."""
    with progress(f"run {name}") as update:
        final = advertiser.wait_for_run(
            cid, run_id, timeout=RUN_TIMEOUT_SECONDS,
            on_progress=lambda state: update(float(state.get("progress") or 0.0)),
        )  # fmt: skip
        update(1.0)
    if final.get("status") != "succeeded":
        error = final.get("error") or {}
        raise DemoFailed(f"run of {name} failed: {error.get('code')}: {error.get('message')}")
    return advertiser.get_report(cid, run_id)


def _write_outputs(
    client: ApiClient,
    cid: str,
    report: Mapping[str, Any],
    comparison: ReportComparison,
    out: Path,
    background: Executor,
) -> list[Future[Path]]:
    """The report as the server renders it (JSON and CSV) and its chart, drawn by
    ``background`` while the next run is awaited."""
    out.mkdir(parents=True, exist_ok=True)
    name, run_id = comparison.name, str(report["run_id"])
    written: list[Future[Path]] = []
    formats: tuple[ReportFormat, ...] = ("json", "csv")
    for fmt in formats:
        path = out / f"{name}.{fmt}"
        path.write_bytes(client.download_report(cid, run_id, fmt))
        done: Future[Path] = Future()
        done.set_result(path)
        written.append(done)
    written.append(background.submit(write_chart, comparison, out / f"{name}.png"))
    return written


def _print_budget(advertiser: ApiClient, cid: str, echo: Echo) -> dict[str, Any]:
    lines = advertiser.budget(cid)
    echo("")
    for line in lines:
        left, total = line.get("remaining") or {}, line.get("total") or {}
        echo(
            f"remaining budget of {line.get('org')}: epsilon {left.get('epsilon', 0):.4g} of "
            f"{total.get('epsilon')}, delta {left.get('delta', 0):.3g} of {total.get('delta')}"
        )
    return dict(lines[0].get("remaining") or {}) if lines else {}
