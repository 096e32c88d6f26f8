import math

import pytest

from cleanroom.errors import DatasetInvalid, InvalidRequest
from cleanroom.types import CollaborationPolicy, DatasetSpec, Measurement

SPEC = {
    "name": "transactions",
    "kind": "personal",
    "max_rows_per_user": 200,
    "retention_days": 90,
    "purposes": ["measurement"],
    "columns": {
        "email_sha256": {"role": "identifier"},
        "txn_ts": {"role": "timestamp"},
        "brand": {"role": "dimension"},
        "channel": {"role": "dimension", "values": ["online", "instore"]},
        "amount_cents": {"role": "metric", "bounds": [0, 50000], "aggregates": ["SUM", "AVG"]},
        "consent_measurement": {"role": "consent", "purpose": "measurement"},
        "postal_code": {"role": "blocked"},
    },
}


def test_api_md_dataset_spec_round_trips() -> None:
    spec = DatasetSpec.from_dict(SPEC)
    assert spec.to_dict()["columns"] == SPEC["columns"]
    assert spec.identifier is not None
    assert spec.identifier.name == "email_sha256"
    assert [c.name for c in spec.stored_columns()] == [
        "txn_ts", "brand", "channel", "amount_cents", "consent_measurement",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"kind": "other"}, "kind"),
        ({"columns": {"a": {"role": "dimension"}}}, "exactly one identifier"),
        ({"purposes": []}, "purposes"),
        ({"columns": {**SPEC["columns"], "m": {"role": "metric", "bounds": [5, 1]}}}, "lo <= hi"),
        (
            {"columns": {**SPEC["columns"], "m": {"role": "metric", "bounds": [0, math.inf]}}},
            "finite",
        ),
        ({"columns": {**SPEC["columns"], "m": {"role": "metric"}}}, "needs bounds"),
        (
            {
                "columns": {
                    **SPEC["columns"],
                    "m": {"role": "metric", "bounds": [0, 1], "aggregates": ["MAX"]},
                }
            },
            "MAX",
        ),
        ({"columns": {**SPEC["columns"], "pid": {"role": "dimension"}}}, "reserved"),
        ({"extra": 1}, "unknown dataset spec key"),
    ],
)
def test_bad_specs_are_refused_with_a_reason(patch: dict[str, object], message: str) -> None:
    with pytest.raises(DatasetInvalid, match=message):
        DatasetSpec.from_dict({**SPEC, **patch})


def test_consent_purpose_must_be_known_to_policy() -> None:
    spec = DatasetSpec.from_dict(SPEC)
    with pytest.raises(DatasetInvalid, match="not allowed by this collaboration"):
        spec.check_against_policy(CollaborationPolicy.from_dict({"purposes": ["audience_sizing"]}))


@pytest.mark.parametrize(
    "policy",
    [
        {"epsilon_budget": -1},
        {"epsilon_budget": math.nan},
        {"delta_budget": 1.5},
        {"min_users_per_row": 9},
        {"max_epsilon_per_run": 20},
        {"purposes": []},
        {"budget_refresh": "monthly"},
        {"surprise": True},
    ],
)
def test_bad_policies_are_refused(policy: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest):
        CollaborationPolicy.from_dict(policy)


def test_sensitivities() -> None:
    m = Measurement("sales", "sum", -5.0, 100.0, integer=True, max_groups=4)
    assert m.l1_sensitivity == 400.0
    assert m.l2_sensitivity == 200.0
