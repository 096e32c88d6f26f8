"""``log_format = "json"``: one JSON object a line with timestamp, level, logger, message and the
request id; a request's lines carry its id, and neither the request's values, its path's ids nor
an exception's message (which may quote data) reach the log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cleanroom.config import Settings
from cleanroom.services.auth import mint_token
from cleanroom.web.logs import ROOT_LOGGER, configure_logging
from tests.web.route_world import RouteApi
from tests.web.sample_routes import SECRET_MESSAGE, install_sample_routes

REQUEST_ID = "req-json-0123456789"


@pytest.fixture
def json_log(settings: Settings) -> Iterator[tuple[Settings, io.StringIO]]:
    stream = io.StringIO()
    json_settings = settings.replace(log_format="json")
    handler = configure_logging(json_settings, stream)
    logger = logging.getLogger(ROOT_LOGGER)
    try:
        yield json_settings, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in stream.getvalue().splitlines() if line]
    for line in parsed:
        assert {"timestamp", "level", "logger", "message", "request_id"} <= set(line)
        assert line["timestamp"].endswith("Z")
    return parsed


def test_a_request_line_carries_its_id_and_no_values(
    json_log: tuple[Settings, io.StringIO],
) -> None:
    settings, stream = json_log
    api = RouteApi(settings)
    try:
        token = mint_token(settings, "shopco", "retailer_admin", "ana@shopco")
        body = {
            "name": "Zebra Secret Launch",
            "partner_orgs": ["acme"],
            "policy": {"epsilon_budget": 3.25},
        }
        response = api.client.post(
            "/v1/collaborations",
            json=body,
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": REQUEST_ID},
        )
        assert response.status_code == 201
        cid = response.get_json()["id"]
    finally:
        api.close()
    ours = [line for line in lines(stream) if line["request_id"] == REQUEST_ID]
    assert ours, stream.getvalue()
    finished = [line for line in ours if line["logger"] == "cleanroom.web.requests"]
    assert finished[0]["http"]["route"] == "/v1/collaborations"
    assert finished[0]["http"]["status"] == 201
    text = stream.getvalue()
    for value in ("Zebra Secret Launch", "3.25", cid, token):
        assert value not in text


def test_an_exception_is_logged_by_type_and_stack_not_message(
    json_log: tuple[Settings, io.StringIO], make_app: Callable[..., Flask]
) -> None:
    settings, stream = json_log
    client = install_sample_routes(make_app(settings)).test_client()
    response = client.get("/v1/_test/boom", headers={"X-Request-ID": REQUEST_ID})
    assert response.status_code == 500
    failed = [line for line in lines(stream) if line.get("exception")]
    assert failed
    assert failed[0]["request_id"] == REQUEST_ID
    assert failed[0]["level"] == "error"
    assert failed[0]["exception"]["type"] == "RuntimeError"
    assert any("sample_routes.py" in frame for frame in failed[0]["exception"]["stack"])
    assert "hunter2" not in stream.getvalue()
    assert SECRET_MESSAGE not in stream.getvalue()


def test_text_format_names_the_request_id(
    settings: Settings, make_app: Callable[..., Flask]
) -> None:
    stream = io.StringIO()
    handler = configure_logging(settings, stream)  # log_format defaults to text
    try:
        client = install_sample_routes(make_app(settings)).test_client()
        client.get("/v1/_test/boom", headers={"X-Request-ID": REQUEST_ID})
    finally:
        logger = logging.getLogger(ROOT_LOGGER)
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    first = stream.getvalue().splitlines()[0]
    assert f"[{REQUEST_ID}]" in first
    assert " ERROR cleanroom.web " in first


def test_the_documented_line_has_the_real_shape(json_log: tuple[Settings, io.StringIO]) -> None:
    settings, stream = json_log
    api = RouteApi(settings)
    try:
        token = mint_token(settings, "shopco", "retailer_admin", "ana@shopco")
        api.client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    finally:
        api.close()
    real = next(line for line in lines(stream) if line["logger"] == "cleanroom.web.requests")
    operations = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
    logs_section = operations.read_text(encoding="utf-8").split("### Logs", 1)[1]
    documented = json.loads(logs_section.split("```json\n", 1)[1].split("\n```", 1)[0])
    assert set(documented) == set(real)
    assert set(documented["http"]) == set(real["http"])
    assert {type(v) for v in documented["http"].values()} == {
        type(v) for v in real["http"].values()
    }
