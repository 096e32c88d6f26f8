"""Schemathesis against ``/openapi.json``: generated requests to every operation never get a 5xx,
and every response matches the documented status codes, media types and schemas.

Path parameters point at a real collaboration (datasets, an approved template, a succeeded run) so
that generated bodies and queries reach the services instead of stopping at a 404. Each case is
sent as the retailer admin and as the advertiser. Bounded: a few derandomized examples each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cleanroom.config import load_settings
from tests.web.route_world import ADVERTISER, RETAILER, RouteApi, setup_collaboration

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
TEST_JWT_SECRET = "schemathesis-jwt-secret-0123456789-abcdefgh"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RouteApi, dict[str, str]]]:
    root = tmp_path_factory.mktemp("schemathesis")
    (root / "data").mkdir()
    settings = load_settings(
        env={},
        config_file=None,
        data_dir=root / "data",
        secret_key="schemathesis-secret",
        jwt_secret=TEST_JWT_SECRET,
    )
    api = RouteApi(settings)
    try:
        cid, tid = setup_collaboration(api, root)
        started = api.start_run(cid, tid)
        assert started.status_code == 202
        api.run_pending()
        listed = api.call("GET", f"/v1/collaborations/{cid}/datasets", ADVERTISER, "advertiser")
        did = next(d["id"] for d in listed.get_json()["items"] if d["name"] == "campaign_spend")
        yield api, {"cid": cid, "tid": tid, "rid": started.get_json()["id"], "did": did}
    finally:
        api.close()


def check_operation(
    operation: Any, mode: schemathesis.GenerationMode, api: RouteApi, ids: dict[str, str]
) -> None:
    path_ids = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}

    @hypothesis.given(case=operation.as_strategy(mode, path_parameters=path_ids))
    @hypothesis.settings(
        max_examples=4,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        for org, role in ((RETAILER, "retailer_admin"), (ADVERTISER, "advertiser")):
            case.call_and_validate(headers=api.headers(org, role), checks=CHECKS)

    try:
        check()
    except hypothesis.errors.Unsatisfiable:
        # Nothing to negate (no body, query or path input that can be invalid): fine.
        assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label


@pytest.mark.slow
def test_generated_requests_conform(seeded: tuple[RouteApi, dict[str, str]]) -> None:
    api, ids = seeded
    schema = schemathesis.openapi.from_wsgi("/openapi.json", api.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            check_operation(operation, mode, api, ids)
