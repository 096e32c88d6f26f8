"""Starting and reaching a real ``cleanroom serve`` (gunicorn, 2 workers, in-process run workers)
on a free loopback port, with the store migrated first (as ``cleanroom init-db`` would).

Importing this module also puts ``tests/web`` on the import path: the system tests upload the
web tests' small two-party world (``route_world``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from cleanroom.config import Settings, load_settings
from cleanroom.services.auth import mint_token
from cleanroom.store import init_db

CLEANROOM = Path(sys.executable).parent / "cleanroom"
BOOT_SECONDS = 90.0  # two workers importing the whole stack on a loaded machine
STOP_SECONDS = 40.0


@dataclass(frozen=True)
class LiveServer:
    base: str
    settings: Settings  # as the server sees them (for minting tokens)
    log: Path

    def headers(self, org: str, role: str) -> dict[str, str]:
        token = mint_token(self.settings, org, role, f"{role}@{org}")
        return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(
    tmp_path: Path, database_url: str, extra_env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """Migrate the store, start the server, yield when ready, always terminate it.
    ``extra_env`` adds or overrides ``CLEANROOM_*`` settings of the server."""
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
    env.update(extra_env or {})
    settings = load_settings(env=env, config_file=None)
    init_db(settings.effective_database_url)
    port = free_port()
    log_path = tmp_path / "server.log"
    command = [str(CLEANROOM), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--workers", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_ready(base, process, log_path)
            yield LiveServer(base, settings, log_path)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_until_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + BOOT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("the server exited during start-up:\n" + log.read_text())
        try:
            if requests.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    pytest.fail("the server did not become ready:\n" + log.read_text())
