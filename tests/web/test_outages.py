"""Outages are not bugs: a store that cannot be reached, drops its connections or stays locked,
and a data volume short of space, give ``503 service_unavailable`` with ``Retry-After`` (never a
500, never the driver's message), lose and charge nothing, and show in ``/readyz``.

PostgreSQL outages are real: a closed port on 127.0.0.1, and a dedicated database that stops
accepting connections while its backends are terminated (``pg_terminate_backend``).
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.test import TestResponse

from cleanroom.cli.main import cli
from cleanroom.config import Settings
from cleanroom.errors import StoreUnavailable
from cleanroom.services.context import build_services
from cleanroom.store import db as store_db
from cleanroom.store import open_store
from tests.cli.cli_world import command_env
from tests.web.console_world import ConsoleUser, csrf_of
from tests.web.route_world import ADVERTISER, RETAILER, RouteApi, setup_collaboration
from tests.web.web_testing import assert_problem

DRIVER_WORDS = ("psycopg", "OperationalError", "refused", "5432", "database is locked", "sqlite")


def assert_outage(response: TestResponse) -> None:
    body = assert_problem(response, 503, "service_unavailable", forbidden=DRIVER_WORDS)
    assert int(response.headers["Retry-After"]) >= 1
    assert body["request_id"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admin_url() -> str:
    url = os.environ.get("CLEANROOM_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but CLEANROOM_TEST_DATABASE_URL is not set")
        pytest.skip("CLEANROOM_TEST_DATABASE_URL not set")
    return url


@pytest.fixture
def own_database() -> Iterator[str]:
    """A PostgreSQL database of this test's own (it will be made unreachable): its URL."""
    import psycopg

    url = admin_url()
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    name = "cleanroom_outage_" + uuid.uuid4().hex[:12]
    with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def set_reachable(database_url: str, reachable: bool) -> None:
    """Let the database accept connections or not; when not, end every open one."""
    import psycopg

    plain = admin_url().replace("postgresql+psycopg://", "postgresql://")
    name = database_url.rpartition("/")[2]
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(reachable).lower()}')
        if not reachable:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )


@pytest.mark.postgres
def test_postgres_connections_lost_mid_service(
    settings: Settings, own_database: str, tmp_path: Path
) -> None:
    api = RouteApi(settings.replace(database_url=own_database))
    try:
        cid, tid = setup_collaboration(api, tmp_path)
        budget_path = f"/v1/collaborations/{cid}/budget"
        before = api.call("GET", budget_path, ADVERTISER, "advertiser").get_json()
        runs_path = f"/v1/collaborations/{cid}/runs"
        runs_before = api.call("GET", runs_path, RETAILER, "retailer_admin").get_json()

        set_reachable(own_database, False)
        assert_outage(api.call("GET", runs_path, RETAILER, "retailer_admin"))  # a read
        assert_outage(api.start_run(cid, tid))  # a write that would charge the budget
        assert_outage(api.submit(cid))  # a write that would store a template
        ready = api.client.get("/readyz")
        assert_problem(ready, 503, "service_unavailable")
        assert ready.get_json()["checks"]["store"] == "failing"

        set_reachable(own_database, True)  # the pool reconnects by itself
        assert api.client.get("/readyz").status_code == 200
        after = api.call("GET", budget_path, ADVERTISER, "advertiser").get_json()
        assert after == before  # nothing charged
        runs_after = api.call("GET", runs_path, RETAILER, "retailer_admin").get_json()
        assert runs_after == runs_before  # nothing stored
        templates = api.call(
            "GET", f"/v1/collaborations/{cid}/templates", RETAILER, "retailer_admin"
        )
        assert len(templates.get_json()["items"]) == 1  # only the approved one
    finally:
        api.close()


def test_postgres_unreachable_from_the_start(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/cleanroom"
    api = RouteApi(settings.replace(database_url=url))  # building the services fails per request
    try:
        with caplog.at_level(logging.ERROR, logger="cleanroom.web"):
            listed = api.call("GET", "/v1/collaborations", RETAILER, "retailer_admin")
        assert_outage(listed)
        rid = listed.get_json()["request_id"]
        # The operator's log has the driver's reason under the request id; the client has not.
        assert any(
            rid in r.getMessage() and "OperationalError" in r.getMessage() for r in caplog.records
        )
        body = {"name": "q", "partner_orgs": [ADVERTISER], "policy": {"epsilon_budget": 1.0}}
        assert_outage(api.call("POST", "/v1/collaborations", RETAILER, "retailer_admin", json=body))
        ready = api.client.get("/readyz")
        assert_problem(ready, 503, "service_unavailable")
    finally:
        api.close()


def test_store_unavailable_when_postgres_refuses(settings: Settings) -> None:
    store = open_store(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/cleanroom")
    try:
        with pytest.raises(StoreUnavailable):
            store.list_collaborations("shopco")
        assert store.ping() is False
    finally:
        store.close()


def test_sqlite_locked_beyond_the_busy_timeout(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(store_db, "SQLITE_BUSY_TIMEOUT_MS", 200)  # keep the test short
    api = RouteApi(settings)
    try:
        cid = api.open_collaboration()
        blocker = sqlite3.connect(settings.data_dir / "cleanroom.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock, and stuck
        try:
            outage = api.call(
                "POST",
                "/v1/collaborations",
                RETAILER,
                "retailer_admin",
                json={"name": "q4", "partner_orgs": [ADVERTISER], "policy": {"epsilon_budget": 1}},
            )
            assert_outage(outage)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        listed = api.call("GET", "/v1/collaborations", RETAILER, "retailer_admin").get_json()
        assert [c["id"] for c in listed["items"]] == [cid]  # the refused one was not stored
    finally:
        api.close()


def test_readyz_fails_when_the_data_volume_is_short_of_space(settings: Settings) -> None:
    api = RouteApi(settings.replace(min_free_disk_bytes=2**62))  # more than any disk has
    try:
        body = assert_problem(api.client.get("/readyz"), 503, "service_unavailable")
        assert body["checks"]["disk"] == "failing"
        assert body["checks"]["store"] == "ok"
    finally:
        api.close()
    svc = build_services(settings.replace(min_free_disk_bytes=1), migrate=True)
    try:
        assert svc.ready() == {"store": True, "engine": True, "disk": True}
    finally:
        svc.close()


def test_the_console_says_unavailable_not_internal_error(settings: Settings) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/cleanroom"
    api = RouteApi(settings.replace(database_url=url))
    try:
        user = ConsoleUser(api, RETAILER, "retailer_admin")
        form = user.client.get("/console/sign-in")
        signed = user.client.post(
            "/console/sign-in", data={"token": user.token, "csrf_token": csrf_of(form)}
        )
        assert signed.status_code == 302
        page = user.get("/console/collaborations")
        assert page.status_code == 503
        assert page.headers["Retry-After"]
        text = page.get_data(as_text=True)
        assert "service_unavailable" in text
        assert "internal_error" not in text
        for word in DRIVER_WORDS:
            assert word not in text
    finally:
        api.close()


def test_init_db_tells_the_operator_why_the_store_is_unavailable(settings: Settings) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/cleanroom"
    env = command_env(settings.replace(database_url=url))
    result = CliRunner().invoke(cli, ["init-db"], env=env)
    assert result.exit_code != 0
    assert "service_unavailable" in result.output
    assert "OperationalError" in result.output  # the local operator gets the driver's reason
    assert "Traceback" not in result.output
