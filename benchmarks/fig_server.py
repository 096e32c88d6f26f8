"""Figure 4: the HTTP API under 50 concurrent clients on loopback (gunicorn, ``cleanroom serve``).

A small collaboration with one succeeded run is set up through the services layer; then
``cleanroom serve`` starts with the shipped gunicorn configuration on a free loopback port. The
load generator (:mod:`benchmarks.loadgen`) is bounded: a fixed number of requests per endpoint and
a time cap, split over two client processes of ``clients / 2`` keep-alive connections each, one
request in flight per connection, driven by one ``selectors`` loop per process (no threads, no
``http.client``: the client shares the cores with the server, so it must cost as little as
possible). Latency is measured per request by the client; any non-200 answer, exception or
timeout is an error. Latencies still include the client's own CPU time and scheduling on this
machine: an upper bound on what a remote client would see.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    Size,
    Table,
    fmt_ms,
    fmt_rate,
    median,
    percentile,
    run_case,
    verdict,
)
from benchmarks.loadgen import run_clients
from benchmarks.world import ADVERTISER, RUN_LOSS, BenchWorld, bench_settings, build_world

CLIENT_PROCESSES = 2
TARGET_P99 = {"template": 0.050, "run status": 0.050, "report (JSON)": 0.200}


def loadgen_case(args: dict[str, Any]) -> dict[str, Any]:
    """Child: ``clients`` keep-alive connections share ``requests`` GETs of ``path``."""
    time.sleep(max(0.0, args["start_at"] - time.time()))
    return run_clients(
        args["port"],
        args["path"],
        {"Authorization": f"Bearer {args['token']}"},
        args["clients"],
        args["requests"],
        args["time_cap"],
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _completed_run(world: BenchWorld) -> str:
    from cleanroom.services.context import build_services
    from cleanroom.services.requests import RunRequest
    from cleanroom.services.runs import RunWorker, create_run

    svc = build_services(bench_settings(world.data_dir))
    try:
        body = {"template_id": world.templates["last_touch_attribution"], "privacy_loss": RUN_LOSS}
        run, _ = create_run(svc, ADVERTISER, world.collaboration_id, RunRequest.from_json(body))
        RunWorker(svc, "bench").run_pending()
        return run.id
    finally:
        svc.close()


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("cleanroom serve exited before it was ready")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("cleanroom serve did not become ready in time")


def _warm(port: int, path: str, token: str, requests: int = 20) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(requests):
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        conn.getresponse().read()
    conn.close()


def _load(size: Size, port: int, path: str, token: str) -> dict[str, Any]:
    per_process = max(1, size.server_clients // CLIENT_PROCESSES)
    args = {
        "port": port,
        "path": path,
        "token": token,
        "clients": per_process,
        "requests": size.server_requests // CLIENT_PROCESSES,
        "time_cap": size.server_time_cap,
        "start_at": time.time() + 2.0,
    }
    with ThreadPoolExecutor(CLIENT_PROCESSES) as pool:
        results = list(pool.map(lambda _: run_case("loadgen", args), range(CLIENT_PROCESSES)))
    latencies = [x for r in results for x in r["latencies"]]
    elapsed = max(r["finished"] for r in results) - min(r["started"] for r in results)
    return {
        "count": len(latencies),
        "per_s": len(latencies) / elapsed,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "errors": [e for r in results for e in r["errors"]],
    }


def server_figure(size: Size, repeat: int, scratch: Path) -> list[Table]:
    from cleanroom.services.auth import mint_token

    world = build_world(scratch / "server-world", scratch / "uploads", min(size.run_rows))
    run_id = _completed_run(world)
    settings = bench_settings(world.data_dir)
    token = mint_token(settings, ADVERTISER.org, ADVERTISER.role, ADVERTISER.sub, ttl=7200)
    port = _free_port()
    env = {
        **os.environ,
        "CLEANROOM_DATA_DIR": str(world.data_dir),
        "CLEANROOM_SECRET_KEY": settings.secret_key,
        "CLEANROOM_JWT_SECRET": settings.jwt_secret,
        "CLEANROOM_HOST": "127.0.0.1",
        "CLEANROOM_PORT": str(port),
        "CLEANROOM_LOG_LEVEL": "warning",
    }
    base = f"/v1/collaborations/{world.collaboration_id}"
    endpoints = {
        "template": f"{base}/templates/{world.templates['last_touch_attribution']}",
        "run status": f"{base}/runs/{run_id}",
        "report (JSON)": f"{base}/runs/{run_id}/report?format=json",
    }
    table = Table(
        "server",
        [
            "GET", "clients", "requests", "requests/s (median)", "p50 ms", "p99 ms", "errors",
            "target",
        ],
    )  # fmt: skip
    log = (scratch / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "cleanroom"), "serve"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_ready(port, proc)
        for path in endpoints.values():  # warm both workers' lazy imports and caches
            _warm(port, path, token)
        for label, path in endpoints.items():
            rounds = [_load(size, port, path, token) for _ in range(max(1, repeat // 2))]
            p99 = median([r["p99"] for r in rounds])
            errors = [e for r in rounds for e in r["errors"]]
            target = TARGET_P99[label]
            table.rows.append(
                [
                    label,
                    str(size.server_clients),
                    "/".join(str(r["count"]) for r in rounds),
                    fmt_rate(median([r["per_s"] for r in rounds])),
                    fmt_ms(median([r["p50"] for r in rounds])),
                    fmt_ms(p99),
                    f"{len(errors)} ({', '.join(sorted(set(errors))[:3])})" if errors else "0",
                    f"p99 < {target * 1000:.0f} ms: {verdict(p99 < target and not errors)}",
                ]
            )
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    table.notes.append(
        f"gunicorn as `cleanroom serve` ships it (settings defaults: {settings.gunicorn_workers} "
        f"workers x gthread); {max(1, repeat // 2)} round(s) per endpoint, medians across rounds; "
        f"{CLIENT_PROCESSES} client processes, each one event loop over its keep-alive "
        "connections."
    )
    return [table]
