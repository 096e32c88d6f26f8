"""Scratch a SIGKILLed process left (an upload, a spill directory, a half-written Parquet file) is
removed at start-up and after orphan recovery; scratch a live process holds is not."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

from cleanroom.scratch import held, sweep_data_dir
from cleanroom.services.context import Services
from cleanroom.services.server import recover_orphaned_runs


def _hold_then_die(paths: list[str]) -> None:
    for name in paths:
        path = Path(name)
        if name.endswith("/"):
            path.mkdir()
            (path / "spill.block").write_bytes(b"x" * 1024)
        else:
            path.write_bytes(b"partial")
        held(path).__enter__()  # held until the process dies
    os.kill(os.getpid(), signal.SIGKILL)


def _age(*paths: Path) -> None:
    old = time.time() - 3600
    for path in paths:
        os.utime(path, (old, old))


def test_a_crashed_processs_scratch_is_swept_and_a_live_ones_is_kept(svc: Services) -> None:
    data = svc.settings.data_dir
    (data / "tmp").mkdir(parents=True, exist_ok=True)
    (data / "datasets" / "c1").mkdir(parents=True, exist_ok=True)
    upload, spill = data / "tmp" / "upload-dead.part", data / "tmp" / "duckdb-dead"
    partial = data / "datasets" / "c1" / ".tmp-dead.parquet"
    child = multiprocessing.get_context("spawn").Process(
        target=_hold_then_die, args=([str(upload), f"{spill}/", str(partial)],)
    )
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    live, fresh = data / "tmp" / "upload-live.part", data / "tmp" / "duckdb-fresh"
    live.write_bytes(b"receiving")
    fresh.mkdir()
    kept = data / "datasets" / "c1" / "crm-1.parquet"
    kept.write_bytes(b"PAR1")
    _age(upload, spill, partial, live, kept)
    with held(live):
        assert recover_orphaned_runs(svc) == 0
        assert not upload.exists()
        assert not spill.exists()
        assert not partial.exists()
        assert live.exists()  # held by a live process
        assert fresh.exists()  # within the grace period: perhaps not locked yet
        assert kept.exists()  # not scratch
    assert sweep_data_dir(data) == 1  # the upload, once its process let go
    assert not live.exists()


def test_the_orphan_timeout_follows_the_configured_heartbeat(svc: Services) -> None:
    from datetime import timedelta

    from cleanroom.services.runs import heartbeat_timeout

    assert heartbeat_timeout(svc.settings.replace(run_heartbeat_seconds=2)) == timedelta(seconds=8)
    assert heartbeat_timeout(svc.settings) == timedelta(seconds=20)  # the default: 5 s periods
