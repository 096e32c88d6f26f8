"""Under a real gunicorn (``cleanroom serve``): JSON log lines carry the request id of the
request they belong to, and ``/metrics`` serves Prometheus text that counts requests."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from cleanroom.config import load_settings
from cleanroom.services.auth import mint_token
from cleanroom.store import init_db
from tests.web.test_serving import CLEANROOM, free_port, server_env

REQUEST_ID = "gunicorn-json-0123456789"


@pytest.mark.slow
def test_json_logs_and_metrics_under_gunicorn(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    metrics_token = "gunicorn-metrics-token-0123456789"
    env = {
        **server_env(data),
        "CLEANROOM_LOG_FORMAT": "json",
        "CLEANROOM_METRICS_TOKEN": metrics_token,
    }
    settings = load_settings(env=env, config_file=None)
    init_db(settings.effective_database_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(CLEANROOM), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        try:
            for _ in range(300):  # up to ~30 s for the worker to boot
                if process.poll() is not None:
                    break
                try:
                    if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except (requests.ConnectionError, requests.Timeout):
                    time.sleep(0.1)
            assert process.poll() is None, log_path.read_text()
            token = mint_token(settings, "acme", "advertiser", "ana@acme")
            headers = {"Authorization": f"Bearer {token}", "X-Request-ID": REQUEST_ID}
            whoami = requests.get(f"{base}/v1/whoami", headers=headers, timeout=5)
            assert whoami.status_code == 200
            ops = {"Authorization": f"Bearer {metrics_token}"}
            scraped = requests.get(f"{base}/metrics", headers=ops, timeout=5)
            assert scraped.status_code == 200
            families = {f.name: f for f in text_string_to_metric_families(scraped.text)}
            counted = [
                s
                for s in families["cleanroom_http_requests"].samples
                if s.labels.get("route") == "/v1/whoami" and s.labels.get("status") == "200"
            ]
            assert [s.value for s in counted] == [1.0]
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=40)
    ours = []
    for raw in log_path.read_text().splitlines():
        if raw.startswith("{"):
            line = json.loads(raw)
            if line.get("request_id") == REQUEST_ID:
                ours.append(line)
    assert [line["http"]["route"] for line in ours] == ["/v1/whoami"]
    assert ours[0]["logger"] == "cleanroom.web.requests"
    assert token not in log_path.read_text()
