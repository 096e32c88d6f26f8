"""``cleanroom worker``: execute queued runs from the store in a separate process.

For deployments that set ``worker_threads = 0`` in the servers, or add run capacity on other
hosts: claiming a run is atomic, so any number of workers (and servers) share one store. Runs
orphaned by a crashed worker are failed at start-up (their charge is kept).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from cleanroom.cli.database import local_settings, require_current_schema
from cleanroom.errors import CleanroomError
from cleanroom.services.context import build_services
from cleanroom.services.runs import RunWorker
from cleanroom.services.server import recover_orphaned_runs, worker_id


@click.command("worker")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Runs executed at the same time.")  # fmt: skip
@click.option("--once", is_flag=True, help="Execute the queued runs, then exit.")
def worker(threads: int, once: bool) -> None:
    """Claim queued runs from the store and execute them until stopped (SIGTERM or Ctrl-C)."""
    settings = local_settings()
    require_current_schema(settings.effective_database_url)
    svc = build_services(settings)
    try:
        recovered = recover_orphaned_runs(svc)
        if recovered:
            click.echo(f"failed {recovered} run(s) orphaned by a crashed worker", err=True)
        pool = RunWorker(svc, worker_id(), threads)
        if once:
            click.echo(f"executed {pool.run_pending()} run(s)")
            return
        _serve_until_stopped(pool)
    except CleanroomError as err:
        raise click.ClickException(f"{err.code}: {err.detail}") from None
    finally:
        svc.close()


def _serve_until_stopped(pool: RunWorker) -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    pool.start()
    click.echo(f"worker {pool.worker_id}: waiting for runs (SIGTERM or Ctrl-C stops)", err=True)
    try:
        stop.wait()
    finally:
        pool.stop()  # gives a run in progress a few seconds to finish
        for signum, handler in previous.items():
            signal.signal(signum, handler)
