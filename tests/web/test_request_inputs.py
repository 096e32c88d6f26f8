"""Request readers (JSON body, Idempotency-Key, pagination) and the body schema checker."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cleanroom.config import Settings
from cleanroom.web.schema import NamedSchema, schema_violations
from tests.web.sample_routes import install_sample_routes
from tests.web.web_testing import bearer, hs256_token


@pytest.fixture
def client(make_app: Callable[..., Flask]) -> FlaskClient:
    return install_sample_routes(make_app()).test_client()


def test_valid_body_reaches_the_view(client: FlaskClient, settings: Settings) -> None:
    headers = {**bearer(hs256_token(settings)), "Idempotency-Key": "3f2b-key_1"}
    widget = {"name": "w", "size": 3, "tags": ["a"]}
    response = client.post("/v1/_test/widgets", json=widget, headers=headers)
    assert response.status_code == 201
    assert response.get_json() == {
        "widget": widget,
        "key": "3f2b-key_1",
        "principal": {"sub": "ana", "org": "acme", "role": "advertiser"},
    }


def test_missing_idempotency_key_is_none(client: FlaskClient, settings: Settings) -> None:
    response = client.post(
        "/v1/_test/widgets", json={"name": "w"}, headers=bearer(hs256_token(settings))
    )
    assert response.get_json()["key"] is None


def test_json_media_type_with_charset_and_suffix(client: FlaskClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.post("/v1/_test/raw", data='{"a": [1]}', content_type=content_type)
        assert response.get_json() == {"a": [1]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"limit": 10, "cursor": None}),
        ("?limit=1000&cursor=abc-123_=", {"limit": 1000, "cursor": "abc-123_="}),
    ],
)
def test_page_params(client: FlaskClient, query: str, expected: dict[str, object]) -> None:
    response = client.get(f"/v1/_test/widgets/7{query}")
    assert response.get_json() == {"wid": 7, "page": expected}


@pytest.mark.parametrize("query", ["limit=1001", "limit=%C2%B2", "cursor=" + "c" * 201])
def test_page_params_out_of_range(client: FlaskClient, query: str) -> None:
    assert client.get(f"/v1/_test/widgets/7?{query}").status_code == 400


POLICY_LIKE = NamedSchema(
    "PolicyLike",
    {
        "type": "object",
        "properties": {
            "epsilon": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
            "refresh": {"type": ["string", "null"], "enum": ["monthly", None]},
            "purposes": {"type": "array", "uniqueItems": True, "minItems": 1},
            "mode": {"const": "strict"},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^[a-z]+$"}]},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "maxProperties": 6,
    },
)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"epsilon": 0}, "body.epsilon: must be greater than 0"),
        ({"epsilon": 101}, "body.epsilon: must be at most 100"),
        ({"epsilon": True}, "body.epsilon: must be a number"),
        ({"epsilon": float("inf")}, "body.epsilon: must be a number"),
        ({"refresh": "weekly"}, "body.refresh: must be one of monthly, None"),
        ({"refresh": 3}, "body.refresh: must be a string or null"),
        ({"purposes": []}, "body.purposes: must have at least 1 items"),
        ({"purposes": ["a", "a"]}, "body.purposes: items must be unique"),
        ({"mode": "lax"}, "body.mode: must be strict"),
        ({"either": "ABC"}, "body.either: does not match any of the accepted forms"),
        ({"labels": {"k": 1}}, "body.labels.k: must be a string"),
        ({str(i): i for i in range(7)}, "body: must have at most 6 members"),
    ],
)
def test_schema_violation_messages(value: object, message: str) -> None:
    assert schema_violations(POLICY_LIKE, value) == [message]


def test_schema_accepts_valid_values() -> None:
    value = {"epsilon": 1.5, "refresh": None, "purposes": ["m"], "mode": "strict", "either": 3}
    assert schema_violations(POLICY_LIKE, value) == []
    assert schema_violations(POLICY_LIKE, {"either": "abc", "labels": {"k": "v"}}) == []


def test_schema_messages_are_bounded() -> None:
    many = {"type": "array", "items": {"type": "string"}}
    assert len(schema_violations(many, list(range(1000)))) == 20
