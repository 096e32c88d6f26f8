"""The services context of a serving process: the store, the engine and in-process run workers.

``serving_services`` is what the web app's factory calls, once per process. It recovers runs
orphaned by a crash (a ``running`` run whose heartbeat stopped: its charge is kept, it becomes
``failed``), sweeps the scratch entries crashed processes left (``scratch``) and starts
``worker_threads`` run workers. Several processes may do this against one
store: claiming a run is atomic, and a live run's heartbeat keeps it from being recovered.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from cleanroom.config import Settings
from cleanroom.scratch import sweep_data_dir
from cleanroom.services.context import Services, build_services
from cleanroom.services.runs import RunWorker, heartbeat_timeout


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def recover_orphaned_runs(svc: Services, older_than: timedelta | None = None) -> int:
    """Fail runs whose worker died (heartbeat older than ``older_than``, by default four
    heartbeat periods), then sweep unheld scratch entries; returns how many runs failed."""
    timeout = heartbeat_timeout(svc.settings) if older_than is None else older_than
    recovered = len(svc.store.recover_orphaned_runs(timeout))
    sweep_data_dir(svc.settings.data_dir)
    return recovered


def serving_services(settings: Settings) -> Services:
    """Services for a server process, with ``settings.worker_threads`` run workers."""
    svc = build_services(settings)
    recover_orphaned_runs(svc)
    if settings.worker_threads > 0:
        svc.attach_worker(RunWorker(svc, worker_id(), settings.worker_threads).start())
    return svc
