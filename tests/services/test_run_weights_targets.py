"""Per-output weights in the run request and accuracy targets in the preview, through the
services on SQLite and PostgreSQL: weights move noise between outputs (the preview and the
executed run agree, because the run keeps its weights), targets answer the smallest epsilon that
meets every half-width and whether the budget affords it, and bad names or numbers are refused
with invalid_request naming them."""

from __future__ import annotations

from typing import Any

import pytest

from cleanroom.errors import InvalidRequest
from cleanroom.services.context import Services
from cleanroom.services.records import Run
from cleanroom.services.reports import get_report
from cleanroom.services.requests import RunRequest
from cleanroom.services.runs import RunWorker, create_run, get_run, preview_run
from tests.services.conftest import ANALYST, Room


def _body(room: Room, **extra: Any) -> dict[str, Any]:
    return {"template_id": room.templates["exposed_conversion"].id, "parameters": {},
            "privacy_loss": {"epsilon": 1.0}, **extra}  # fmt: skip


def _preview(svc: Services, room: Room, body: dict[str, Any]) -> dict[str, Any]:
    return preview_run(svc, ANALYST, room.collab.id, RunRequest.from_json(body, preview=True))


def _run(svc: Services, room: Room, body: dict[str, Any]) -> Run:
    return create_run(svc, ANALYST, room.collab.id, RunRequest.from_json(body))[0]


def _widths(preview: dict[str, Any]) -> dict[str, float]:
    return dict(preview["accuracy"]["half_widths"])


def test_request_weights_move_noise_and_the_run_keeps_them(svc: Services, room: Room) -> None:
    plain = _widths(_preview(svc, room, _body(room)))
    weighted_preview = _preview(svc, room, _body(room, weights={"sales": 30}))
    weighted = _widths(weighted_preview)
    assert weighted["sales"] < plain["sales"]
    assert weighted["buyers"] > plain["buyers"]
    assert weighted_preview["weights"] == {"sales": 30.0}
    assert (
        weighted_preview["privacy_loss"] == _preview(svc, room, _body(room))["privacy_loss"]
    )  # the same guarantee and charge

    run = _run(svc, room, _body(room, weights={"sales": 30}))
    assert run.weights == {"sales": 30.0}
    assert run.to_dict()["weights"] == {"sales": 30.0}
    RunWorker(svc, "test").run_pending()
    assert get_run(svc, ANALYST, room.collab.id, run.id).weights == {"sales": 30.0}
    report = get_report(svc, ANALYST, room.collab.id, run.id)
    assert report["accuracy"]["half_widths"]["sales"] == pytest.approx(weighted["sales"])
    parts = {p["column"]: p for p in report["loss_split"]["parts"]}
    assert parts["sales"]["weight"] == 30.0


@pytest.mark.parametrize(
    ("weights", "words"),
    [
        ({"salse": 3, "buyerz": 2}, ["'buyerz'", "'salse'"]),
        ({"sales": 0}, ["weights.sales", "greater than 0"]),
        ({"sales": -1}, ["weights.sales"]),
        ({"sales": 1001}, ["at most 1000"]),
        ([3], ["weights must be an object"]),
    ],
)
def test_bad_weights_are_refused(
    svc: Services, room: Room, weights: object, words: list[str]
) -> None:
    for call in (_preview, _run):
        with pytest.raises(InvalidRequest) as caught:
            call(svc, room, _body(room, weights=weights))
        assert all(w in caught.value.detail for w in words), caught.value.detail
    assert svc.store.list_runs(room.collab.id, ANALYST.org) == []


def test_targets_answer_the_smallest_epsilon_that_meets_them(svc: Services, room: Room) -> None:
    at_one = _widths(_preview(svc, room, _body(room)))
    wanted = {"sales": at_one["sales"], "buyers": at_one["buyers"] * 2}
    found = _preview(svc, room, _body(room, targets=wanted))["target"]
    assert found["met"] is True
    assert found["affordable"] is True
    assert found["epsilon"] == pytest.approx(1.0, rel=1e-2)  # sales binds at epsilon 1
    assert all(found["half_widths"][k] <= v for k, v in wanted.items())
    assert found["privacy_loss"]["epsilon"] == pytest.approx(found["epsilon"])
    # A little less loss misses the sales target: the answer is the smallest.
    less = _body(room, targets=wanted)
    less["privacy_loss"] = {"epsilon": found["epsilon"] * 0.99}
    assert _widths(_preview(svc, room, less))["sales"] > wanted["sales"]
    # Weights change the answer: more of the loss to sales needs less of it in all.
    weighted = _preview(
        svc, room, _body(room, targets={"sales": wanted["sales"]}, weights={"sales": 30})
    )["target"]
    assert weighted["epsilon"] < found["epsilon"]


def test_a_target_beyond_the_maximum_per_run_is_not_met(svc: Services, room: Room) -> None:
    found = _preview(svc, room, _body(room, targets={"buyers": 0.01}))
    target = found["target"]
    assert (target["met"], target["epsilon"], target["affordable"]) == (False, None, False)
    assert target["max_epsilon"] == 5.0  # the demo policy's maximum per run
    assert target["half_widths"]["buyers"] > 0.01


def test_targets_beyond_the_remaining_budget_are_not_affordable(svc: Services, room: Room) -> None:
    at_one = _widths(_preview(svc, room, _body(room)))
    for _ in range(10):  # spend 49 of the 50
        _run(svc, room, _body(room, privacy_loss={"epsilon": 4.9}))
    halved = {"sales": at_one["sales"] / 2}  # needs about epsilon 2; 1 is left
    target = _preview(svc, room, _body(room, targets=halved))["target"]
    assert target["met"] is True
    assert target["epsilon"] > 1.5
    assert target["affordable"] is False


@pytest.mark.parametrize(
    ("targets", "words"),
    [
        ({"salse": 100, "campaign_id": 1}, ["'campaign_id'", "'salse'", "allowed: "]),
        ({"sales": 0}, ["targets.sales", "greater than 0"]),
        ({"sales": "a lot"}, ["targets.sales"]),
        ({}, ["targets must be an object"]),
    ],
)
def test_bad_targets_are_refused(
    svc: Services, room: Room, targets: object, words: list[str]
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        _preview(svc, room, _body(room, targets=targets))
    assert all(w in caught.value.detail for w in words), caught.value.detail


def test_a_run_request_has_no_targets(svc: Services, room: Room) -> None:
    with pytest.raises(InvalidRequest, match="unknown run field"):
        _run(svc, room, _body(room, targets={"sales": 100}))
