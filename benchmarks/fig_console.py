"""Figure: web console page render time on the benchmark collaboration (the demo's specs, policy
and shipped templates, one succeeded run).

Each page is requested through the whole Flask/WSGI stack in-process (Flask's test client: no
socket, so the figure is the server's own time to check the session, call the services and
render the HTML), signed in as the role that works on it. Every page is warmed once, then
requested ``repeat * 10`` times; the figure is the median and 95th percentile per page.
Target: median under 100 ms for every page.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Size, Table, fmt_ms, median, percentile, verdict
from benchmarks.world import ADVERTISER, RETAILER, RUN_LOSS, bench_settings, build_world

TARGET_MEDIAN = 0.100
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _signed_in(app: Any, settings: Any, who: Any) -> Any:
    from cleanroom.services.auth import mint_token

    client = app.test_client()
    form = client.get("/console/sign-in").get_data(as_text=True)
    found = _CSRF.search(form)
    if found is None:
        raise RuntimeError("the sign-in page has no CSRF token")
    token = mint_token(settings, who.org, who.role, who.sub, ttl=7200)
    done = client.post("/console/sign-in", data={"token": token, "csrf_token": found.group(1)})
    if done.status_code != 302:
        raise RuntimeError(f"signing in failed with {done.status_code}")
    return client


def console_figure(size: Size, repeat: int, scratch: Path) -> list[Table]:
    from cleanroom.services.context import Services, build_services
    from cleanroom.services.requests import RunRequest
    from cleanroom.services.runs import RunWorker, create_run
    from cleanroom.web.app import create_app
    from cleanroom.web.state import app_state

    world = build_world(scratch / "console-world", scratch / "console-uploads",
                        min(size.run_rows))  # fmt: skip
    settings = bench_settings(world.data_dir, worker_threads=0)
    app = create_app({"SERVICES_FACTORY": lambda s: build_services(s)}, settings)
    try:
        svc = app_state(app).services()
        assert isinstance(svc, Services)
        cid, tid = world.collaboration_id, world.templates["last_touch_attribution"]
        body = {"template_id": tid, "privacy_loss": RUN_LOSS}
        run, _ = create_run(svc, ADVERTISER, cid, RunRequest.from_json(body))
        RunWorker(svc, "bench").run_pending()
        admin = _signed_in(app, settings, RETAILER)
        advertiser = _signed_in(app, settings, ADVERTISER)
        c = f"/console/c/{cid}"
        pages: list[tuple[str, Any, str]] = [
            ("collaborations", admin, "/console/collaborations"),
            ("overview", admin, c),
            ("templates", admin, f"{c}/templates"),
            ("template review", admin, f"{c}/templates/{tid}"),
            ("run form", advertiser, f"{c}/templates/{tid}/run"),
            ("runs", advertiser, f"{c}/runs"),
            ("run status", advertiser, f"{c}/runs/{run.id}"),
            ("report", advertiser, f"{c}/runs/{run.id}/report"),
            ("datasets", admin, f"{c}/datasets"),
            ("audit", admin, f"{c}/audit"),
            ("terms", admin, f"{c}/terms"),
        ]
        rows = []
        for name, client, path in pages:
            if client.get(path).status_code != 200:
                raise RuntimeError(f"the {name} page did not render")
            times = []
            for _ in range(max(1, repeat) * 10):
                began = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise RuntimeError(f"the {name} page answered {response.status_code}")
            mid = median(times)
            rows.append([name, fmt_ms(mid), fmt_ms(percentile(times, 95)), str(len(times)),
                         verdict(mid < TARGET_MEDIAN)])  # fmt: skip
    finally:
        app_state(app).close()
    return [
        Table(
            "console",
            ["page", "median ms", "p95 ms", "requests", "target (median < 100 ms)"],
            rows,
        )
    ]
