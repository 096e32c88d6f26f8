"""A real gunicorn (2 workers on loopback) via ``cleanroom serve``; ``cleanroom token``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from cleanroom.cli.main import cli
from cleanroom.config import load_settings
from cleanroom.services.auth import verify_token
from cleanroom.store import init_db

CLEANROOM = Path(sys.executable).parent / "cleanroom"
JWT_SECRET = "serve-test-jwt-secret-0123456789-abcdefgh"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANROOM_")}
    env.update(
        CLEANROOM_DATA_DIR=str(data_dir),
        CLEANROOM_SECRET_KEY="serve-test-secret-key",
        CLEANROOM_JWT_SECRET=JWT_SECRET,
    )
    return env


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    # The store's schema exists before the workers open it (as `cleanroom init-db` does).
    (tmp_path / "data").mkdir(exist_ok=True)
    init_db(
        load_settings(env=server_env(tmp_path / "data"), config_file=None).effective_database_url
    )
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [str(CLEANROOM), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=server_env(tmp_path / "data"),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to ~30 s for two workers to boot
            if process.poll() is not None:
                break
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # workers still importing
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not answer /healthz")
        assert process.poll() is None, (tmp_path / "server.log").read_text()
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise
        finally:
            log.close()
    assert returncode == 0, (tmp_path / "server.log").read_text()
    output = (tmp_path / "server.log").read_text()
    assert "Booting worker" in output
    assert "?secret" not in output  # access log lines carry no query string


@pytest.mark.slow
def test_gunicorn_serves_health_auth_and_openapi(server: str) -> None:
    health = requests.get(f"{server}/healthz", timeout=5)
    assert health.json() == {"status": "ok"}
    denied = requests.get(f"{server}/v1/whoami?secret=1", timeout=5)
    assert denied.status_code == 401
    assert denied.headers["Content-Type"] == "application/problem+json"
    assert denied.headers["WWW-Authenticate"].startswith("Bearer")
    body = denied.json()
    assert body["code"] == "invalid_token"
    assert body["type"] == "https://cleanroom.dev/problems/invalid_token"
    # a token near the 8 KB limit reaches the app (gunicorn's header limit is raised for it)
    big = requests.get(
        f"{server}/v1/whoami", headers={"Authorization": "Bearer " + "a" * 8100}, timeout=5
    )
    assert big.status_code == 401
    assert big.json()["code"] == "invalid_token"
    assert requests.get(f"{server}/openapi.json", timeout=5).json()["openapi"] == "3.1.0"
    statuses = {requests.get(f"{server}/readyz", timeout=5).status_code for _ in range(4)}
    assert statuses == {200}


@pytest.mark.slow
def test_token_from_the_cli_is_accepted_by_the_server(server: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(CLEANROOM), "token", "--org", "acme", "--role", "auditor", "--sub", "avi"],
        env=server_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = result.stdout.strip()
    response = requests.get(
        f"{server}/v1/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 200
    assert response.json() == {"sub": "avi", "org": "acme", "role": "auditor"}


def test_token_command_output_verifies(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data")
    runner = CliRunner()
    result = runner.invoke(
        cli, ["token", "--org", "acme", "--role", "partner_viewer", "--ttl", "60"], env=env
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    settings = load_settings(env=env, config_file=None)
    principal = verify_token(settings, token)
    assert (principal.org, principal.role, principal.sub) == (
        "acme",
        "partner_viewer",
        "partner_viewer@acme",
    )


def test_serve_refuses_serving_limits_out_of_range(tmp_path: Path) -> None:
    env = {**server_env(tmp_path / "data"), "CLEANROOM_HTTP_MAX_CONNECTIONS": "8"}
    result = CliRunner().invoke(cli, ["serve", "--port", str(free_port())], env=env)
    assert result.exit_code == 1
    assert "http_max_connections" in result.output  # fewer connections than http_threads


def test_token_command_refuses_unknown_roles(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["token", "--org", "acme", "--role", "root"], env=server_env(tmp_path / "data")
    )
    assert result.exit_code == 2
    assert "root" in result.output
