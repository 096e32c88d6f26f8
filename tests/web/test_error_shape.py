"""Every failure path of the HTTP shell, through the one shape assertion (datasette style)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cleanroom.config import Settings
from tests.web.sample_routes import RAISABLE, SECRET_MESSAGE, install_sample_routes
from tests.web.web_testing import assert_problem, bearer, hs256_token


@pytest.fixture
def client(make_app: Callable[..., Flask], settings: Settings) -> FlaskClient:
    app = make_app(settings.replace(max_upload_bytes=1024))
    return install_sample_routes(app).test_client()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer a b"},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Bearer a.b.c"},
        {"Authorization": "Bearer " + "a" * 9000},
    ],
    ids=["missing", "basic", "empty", "two-parts", "garbage", "bad-segments", "oversized"],
)
def test_401_missing_or_malformed_token(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.get("/v1/whoami", headers=headers)
    assert_problem(response, 401, "invalid_token")
    challenge = response.headers["WWW-Authenticate"]
    assert ('error="invalid_token"' in challenge) == ("Authorization" in headers)


def test_401_before_body_validation(client: FlaskClient) -> None:
    response = client.post("/v1/_test/widgets", data="{nope")
    assert_problem(response, 401, "invalid_token")


def test_404_unknown_route(client: FlaskClient) -> None:
    assert_problem(client.get("/v1/no-such-thing"), 404, "not_found")
    assert_problem(client.get("/no-such-page"), 404, "not_found")
    front = client.get("/")  # the front door is the console's
    assert front.status_code in (302, 303, 308)
    assert front.headers["Location"].endswith("/console/")


def test_405_keeps_allow_header(client: FlaskClient) -> None:
    response = client.delete("/healthz")
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_413_body_over_max_upload_bytes(client: FlaskClient, settings: Settings) -> None:
    token = hs256_token(settings)
    response = client.post("/v1/_test/widgets", json={"name": "x" * 2000}, headers=bearer(token))
    assert_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("data", "content_type", "fragment"),
    [
        ("{not json", "application/json", "not valid JSON (line 1, column 2)"),
        ("[1, 2]", "application/json", "must be a JSON object, not an array"),
        ('"text"', "application/json", "not a string"),
        ("", "application/json", "body is empty"),
        ('{"a": NaN}', "application/json", "NaN or Infinity"),
        (b"\xff\xfe{", "application/json", "not valid UTF-8"),
    ],
    ids=["syntax", "array", "string", "empty", "nan", "utf8"],
)
def test_400_bad_json(
    client: FlaskClient, data: str | bytes, content_type: str, fragment: str
) -> None:
    response = client.post("/v1/_test/raw", data=data, content_type=content_type)
    body = assert_problem(response, 400, "invalid_request")
    assert fragment in body["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_415_a_body_that_is_not_json(client: FlaskClient, content_type: str) -> None:
    response = client.post("/v1/_test/raw", data='{"a": 1}', content_type=content_type)
    body = assert_problem(response, 415, "unsupported_media_type")
    assert "Content-Type: application/json" in body["detail"]


def test_415_an_upload_that_is_not_multipart(client: FlaskClient, settings: Settings) -> None:
    response = client.post(
        "/v1/collaborations/c1/datasets",
        data="a,b\n1,2\n",
        content_type="text/csv",
        headers=bearer(hs256_token(settings)),
    )
    assert_problem(response, 415, "unsupported_media_type")


def test_413_a_json_body_over_the_route_limit_is_refused_unread(
    make_app: Callable[..., Flask],
) -> None:
    # The app takes 2 GiB uploads; a JSON route takes 1 MiB, checked on Content-Length alone.
    client = install_sample_routes(make_app()).test_client()
    response = client.post(
        "/v1/_test/raw",
        data=b"",
        content_type="application/json",
        environ_overrides={"CONTENT_LENGTH": str(400 * 1024 * 1024)},
    )
    body = assert_problem(response, 413, "payload_too_large")
    assert "at most 1048576 bytes" in body["detail"]
    big = b'{"a": "' + b"x" * (2 << 20) + b'"}'
    response = client.post("/v1/_test/raw", data=big, content_type="application/json")
    assert_problem(response, 413, "payload_too_large")


def test_503_a_full_disk_is_an_outage_with_retry_after(client: FlaskClient) -> None:
    response = client.get("/v1/_test/disk-full")
    body = assert_problem(response, 503, "service_unavailable")
    assert response.headers["Retry-After"] == "30"
    assert "out of disk space" in body["detail"]


def test_400_deeply_nested_json(make_app: Callable[..., Flask]) -> None:
    client = install_sample_routes(make_app()).test_client()
    deep = "[" * 100_000 + "]" * 100_000
    response = client.post("/v1/_test/raw", data=deep, content_type="application/json")
    body = assert_problem(response, 400, "invalid_request")
    assert "nested too deeply" in body["detail"]


def test_400_body_breaks_the_declared_schema(client: FlaskClient, settings: Settings) -> None:
    widget = {"name": "", "size": "big", "tags": [1], "colour": "red"}
    response = client.post("/v1/_test/widgets", json=widget, headers=bearer(hs256_token(settings)))
    body = assert_problem(response, 400, "invalid_request")
    for expected in (
        "body.name: must be at least 1 characters",
        "body.size: must be an integer",
        "body.tags[0]: must be a string",
        "body: unknown member 'colour'",
    ):
        assert expected in body["detail"]
    assert "big" not in body["detail"]  # values are never echoed


@pytest.mark.parametrize(
    ("query", "fragment"),
    [("limit=0", "limit must be"), ("limit=abc", "limit must be"), ("cursor=%00", "cursor")],
)
def test_400_bad_page_params(client: FlaskClient, query: str, fragment: str) -> None:
    body = assert_problem(client.get(f"/v1/_test/widgets/1?{query}"), 400, "invalid_request")
    assert fragment in body["detail"]


@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "caf\u00e9"])
def test_400_bad_idempotency_key(client: FlaskClient, settings: Settings, key: str) -> None:
    headers = {**bearer(hs256_token(settings)), "Idempotency-Key": key}
    response = client.post("/v1/_test/widgets", json={"name": "w"}, headers=headers)
    body = assert_problem(response, 400, "invalid_request")
    assert "Idempotency-Key" in body["detail"]


@pytest.mark.parametrize("code", sorted(RAISABLE))
def test_cleanroom_errors_map_to_their_status_and_code(client: FlaskClient, code: str) -> None:
    err = RAISABLE[code]
    body = assert_problem(client.get(f"/v1/_test/raise/{code}"), err.status, err.code)
    assert body["title"] == err.title
    assert body["detail"] == err.detail
    for name, value in err.extra().items():
        assert body[name] == value


def test_template_rejection_carries_the_violations(client: FlaskClient) -> None:
    body = assert_problem(client.get("/v1/_test/raise/template_rejected"), 422, "template_rejected")
    assert body["errors"] == [
        {"code": "row_level_output", "message": "no GROUP BY", "line": 3, "column": 8}
    ]


def test_budget_exhausted_carries_requested_and_remaining(client: FlaskClient) -> None:
    body = assert_problem(client.get("/v1/_test/raise/budget_exhausted"), 409, "budget_exhausted")
    assert body["requested"] == {"epsilon": 1.0}
    assert body["remaining"] == {"epsilon": 0.25}


def test_500_is_generic_and_logged_with_the_request_id(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="cleanroom.web"):
        response = client.get("/v1/_test/boom", headers={"X-Request-ID": "req-12345678"})
    body = assert_problem(
        response, 500, "internal_error", forbidden=("hunter2", "customers", "RuntimeError")
    )
    assert body["request_id"] == "req-12345678"
    assert response.headers["X-Request-ID"] == "req-12345678"
    logged = [r for r in caplog.records if r.name == "cleanroom.web"]
    assert any("req-12345678" in r.getMessage() for r in logged)
    assert any(r.exc_info and SECRET_MESSAGE in str(r.exc_info[1]) for r in logged)


def test_insane_request_ids_are_replaced(client: FlaskClient) -> None:
    response = client.get("/v1/_test/boom", headers={"X-Request-ID": "<script>"})
    body = assert_problem(response, 500, "internal_error")
    assert body["request_id"] != "<script>"
    assert body["request_id"] == response.headers["X-Request-ID"]


def test_503_when_not_ready(make_app: Callable[..., Flask]) -> None:
    class Down:
        def ready(self) -> dict[str, bool]:
            return {"store": True, "engine": False}

        def close(self) -> None:
            pass

    client = make_app(SERVICES_FACTORY=lambda settings: Down()).test_client()
    body = assert_problem(client.get("/readyz"), 503, "service_unavailable")
    assert body["checks"] == {"app": "ok", "store": "ok", "engine": "failing"}
