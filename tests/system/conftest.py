"""A real ``cleanroom serve`` (gunicorn, 2 workers, in-process run workers) on a free loopback port.

The store is migrated first (as ``cleanroom init-db`` would), on SQLite or PostgreSQL
(``database_url``). The server is always terminated, with bounded waits. The web tests' small
two-party world (``tests/web/route_world.py``) provides the files, specs and template.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cleanroom.config import load_settings
from cleanroom.store import init_db

# The web tests' world builder; the system tests upload the same files.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from live_server import CLEANROOM, STOP_SECONDS, LiveServer, free_port, wait_until_healthy


@pytest.fixture
def live_server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    data = tmp_path / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANROOM_")}
    env.update(
        CLEANROOM_DATA_DIR=str(data),
        CLEANROOM_SECRET_KEY="system-test-secret-key",
        CLEANROOM_JWT_SECRET="system-test-jwt-secret-0123456789-abcdefgh",
        CLEANROOM_DATABASE_URL=database_url,
        CLEANROOM_WORKER_THREADS="2",
    )
    settings = load_settings(env=env, config_file=None)
    init_db(settings.effective_database_url)
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(CLEANROOM), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_healthy(base, process, log_path)
            yield LiveServer(base, settings, log_path)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
