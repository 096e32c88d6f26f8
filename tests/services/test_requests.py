"""Requests are parsed once where they enter: shape and ranges here, with a message a person
can act on; what needs the collaboration (parameters, outputs, policy) is the use cases'."""

from __future__ import annotations

from typing import Any

import pytest

from cleanroom.errors import DatasetInvalid, InvalidRequest
from cleanroom.services.requests import (
    DatasetRegistration,
    RequestedLoss,
    RunRequest,
    TemplateSubmission,
)

BASE = {"template_id": "tpl_1", "privacy_loss": {"epsilon": 1}}


def test_a_run_request_is_typed_once() -> None:
    request = RunRequest.from_json({**BASE, "parameters": {"days": 7}, "weights": {"sales": 3}})
    assert request == RunRequest(
        "tpl_1", RequestedLoss(1.0), parameters={"days": 7}, weights={"sales": 3.0}
    )
    assert RunRequest.from_json({**BASE, "parameters": None}).parameters == {}
    assert RequestedLoss.from_json({"epsilon": 2, "delta": 0}) == RequestedLoss(2.0, 0.0)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"privacy_loss": {"epsilon": 1}}, "template_id is required"),
        ({**BASE, "template_id": 7}, "template_id is required"),
        ({**BASE, "parameters": [1]}, "parameters must be an object"),
        ({**BASE, "privacy_loss": None}, "privacy_loss must be an object"),
        ({**BASE, "privacy_loss": {"delta": 1e-6}}, "privacy_loss must be an object"),
        ({**BASE, "privacy_loss": {"epsilon": 1, "sigma": 2}}, "unknown privacy_loss key"),
        ({**BASE, "privacy_loss": {"epsilon": "x"}}, "privacy_loss.epsilon must be"),
        ({**BASE, "privacy_loss": {"epsilon": 0}}, "privacy_loss.epsilon must be"),
        ({**BASE, "privacy_loss": {"epsilon": 1, "delta": 1}}, "privacy_loss.delta must be"),
        ({**BASE, "weights": {"sales": 0}}, "weights.sales must be"),
        ({**BASE, "targets": {"sales": 100}}, "unknown run field(s): targets"),
    ],
)
def test_bad_run_requests_say_what_to_fix(body: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        RunRequest.from_json(body)
    assert words in caught.value.detail


def test_a_preview_may_carry_targets_as_an_object() -> None:
    assert RunRequest.from_json({**BASE, "targets": {"sales": 100}}, preview=True).targets == {
        "sales": 100
    }
    with pytest.raises(InvalidRequest, match="targets must be an object"):
        RunRequest.from_json({**BASE, "targets": []}, preview=True)


def test_a_template_submission_checks_its_text_and_bounds() -> None:
    made = TemplateSubmission.from_json({"sql": "SELECT 1", "bounds": {"sales": [0, 100]}})
    assert (made.sql, made.name, made.bounds) == ("SELECT 1", None, {"sales": (0.0, 100.0)})
    for body, words in [
        ({"sql": "  "}, "sql must be the template's SQL text"),
        ({"sql": "x" * 2_000_000}, "sql is longer than"),
        ({"sql": "SELECT 1", "bounds": {"sales": [5, 1]}}, "bounds.sales must have lo <= hi"),
        ({"sql": "SELECT 1", "bounds": [0, 1]}, "bounds must be an object"),
    ]:
        with pytest.raises(InvalidRequest) as caught:
            TemplateSubmission.from_json(body)
        assert words in caught.value.detail


def test_a_dataset_registration_parses_its_spec() -> None:
    with pytest.raises(DatasetInvalid, match="JSON object"):
        DatasetRegistration.from_json([])
