"""Every policy field and date is classified, each in the right direction, and the docs show the
rules as they are."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cleanroom.services.amendments import (
    DATES,
    LOOSENS,
    RULES,
    TIGHTENS,
    classify,
    date_changes,
    markdown_table,
    policy_changes,
)
from cleanroom.types import CollaborationPolicy

CONCEPTS = Path(__file__).resolve().parents[2] / "docs" / "concepts.md"
JAN, FEB = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)

# (field, old, new, effect): one tightening and one loosening change of every field.
CASES: list[tuple[str, Any, Any, str]] = [
    ("fairness_min_ratio", 0.8, 0.9, TIGHTENS),
    ("fairness_min_ratio", 0.8, 0.5, LOOSENS),
    ("epsilon_budget", 10.0, 8.0, TIGHTENS),
    ("epsilon_budget", 10.0, 12.0, LOOSENS),
    ("delta_budget", 1e-6, 1e-7, TIGHTENS),
    ("delta_budget", 1e-7, 1e-6, LOOSENS),
    ("min_users_per_row", 50, 100, TIGHTENS),
    ("min_users_per_row", 50, 20, LOOSENS),
    ("max_groups_per_user", 4, 2, TIGHTENS),
    ("max_groups_per_user", 4, 8, LOOSENS),
    ("max_count_per_user", 10, 5, TIGHTENS),
    ("max_count_per_user", 10, 20, LOOSENS),
    ("max_epsilon_per_run", 2.0, 1.0, TIGHTENS),
    ("max_epsilon_per_run", 1.0, 2.0, LOOSENS),
    ("budget_refresh", "P30D", "P60D", TIGHTENS),
    ("budget_refresh", "P30D", None, TIGHTENS),  # never refreshing is the tightest
    ("budget_refresh", None, "P30D", LOOSENS),
    ("budget_refresh", "P60D", "P30D", LOOSENS),
    ("purposes", ("measurement", "audience_sizing"), ("measurement",), TIGHTENS),
    ("purposes", ("measurement",), ("measurement", "audience_sizing"), LOOSENS),
    ("purposes", ("measurement",), ("audience_sizing",), LOOSENS),  # adds one: loosens
    ("starts_at", JAN, FEB, TIGHTENS),
    ("starts_at", None, JAN, TIGHTENS),
    ("starts_at", FEB, JAN, LOOSENS),
    ("starts_at", JAN, None, LOOSENS),
    ("ends_at", FEB, JAN, TIGHTENS),
    ("ends_at", None, FEB, TIGHTENS),  # ending an open-ended collaboration
    ("ends_at", JAN, FEB, LOOSENS),
    ("ends_at", JAN, None, LOOSENS),
]


def test_every_policy_field_and_date_has_a_rule() -> None:
    assert set(RULES) == {*CollaborationPolicy.KEYS, *DATES}
    assert {field for field, *_ in CASES} == set(RULES)
    for field in RULES:
        assert {effect for f, _, _, effect in CASES if f == field} == {TIGHTENS, LOOSENS}, field


@pytest.mark.parametrize(("field", "old", "new", "effect"), CASES)
def test_each_change_goes_the_documented_way(field: str, old: Any, new: Any, effect: str) -> None:
    change = classify(field, old, new)
    assert change is not None
    assert change.effect == effect


@pytest.mark.parametrize(
    ("field", "old", "new"),
    [
        ("purposes", ("measurement", "audience_sizing"), ("audience_sizing", "measurement")),
        ("budget_refresh", None, "P0D"),  # "P0D" never refreshes, like null
        ("min_users_per_row", 50, 50),
        ("ends_at", None, None),
    ],
)
def test_the_same_terms_are_no_change(field: str, old: Any, new: Any) -> None:
    assert classify(field, old, new) is None


def test_changes_of_a_whole_policy_and_the_dates() -> None:
    old = CollaborationPolicy()
    new = CollaborationPolicy.from_dict(
        {**old.to_dict(), "max_groups_per_user": 2, "purposes": ["measurement"]}
    )
    changes = policy_changes(old, new)
    assert [(c.field, c.effect) for c in changes] == [
        ("max_groups_per_user", TIGHTENS),
        ("purposes", TIGHTENS),
    ]
    assert changes[1].to_dict() == {
        "field": "purposes",
        "from": ["measurement", "audience_sizing"],
        "to": ["measurement"],
        "effect": TIGHTENS,
    }
    (end,) = date_changes((None, None), (None, FEB))
    assert end.to_dict() == {"field": "ends_at", "from": None, "to": FEB.isoformat(),
                             "effect": TIGHTENS}  # fmt: skip
    assert policy_changes(old, old) == []


def test_the_docs_show_the_rules() -> None:
    assert markdown_table() in CONCEPTS.read_text(encoding="utf-8")
