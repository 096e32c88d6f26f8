"""Starting and reaching a real ``cleanroom serve`` (gunicorn) on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from cleanroom.config import Settings
from cleanroom.services.auth import mint_token

CLEANROOM = Path(sys.executable).parent / "cleanroom"
BOOT_SECONDS = 90.0  # two workers importing the stack on a loaded machine
STOP_SECONDS = 40.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    base: str
    settings: Settings  # as the server sees them (for minting tokens)
    log: Path

    def headers(self, org: str, role: str) -> dict[str, str]:
        token = mint_token(self.settings, org, role, f"{role}@{org}")
        return {"Authorization": f"Bearer {token}"}


def wait_until_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
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
