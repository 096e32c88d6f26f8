"""Which way a change of a collaboration's terms goes: every policy field and date, classified.

A change **tightens** when everything the old terms allowed is still at least as protected under
the new ones (a higher ``min_users_per_row``, a lower ``max_epsilon_per_run``, an earlier end);
it **loosens** otherwise. Tightening is free; a loosening weakens the guarantee already given to
the people in the data and needs ``allow_loosening: true`` (recorded as such in the audit log).
``RULES`` holds one rule per policy field of :class:`~cleanroom.types.CollaborationPolicy` and
per date; a test checks that no field is left out.

>>> from cleanroom.types import CollaborationPolicy
>>> old = CollaborationPolicy()
>>> new = CollaborationPolicy.from_dict({**old.to_dict(), "min_users_per_row": 100,
...                                      "max_epsilon_per_run": 1.0, "epsilon_budget": 12.0})
>>> [(c.field, c.effect) for c in policy_changes(old, new)]  # doctest: +NORMALIZE_WHITESPACE
[('epsilon_budget', 'loosens'), ('min_users_per_row', 'tightens'),
 ('max_epsilon_per_run', 'tightens')]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from cleanroom.types import CollaborationPolicy

TIGHTENS, LOOSENS = "tightens", "loosens"


@dataclass(frozen=True)
class Rule:
    """How one field's change is judged: ``tighter`` says in words which way is tighter."""

    tighter: str
    effect: Callable[[Any, Any], str]  # (old, new) of a changed value -> TIGHTENS | LOOSENS


def _lower(old: Any, new: Any) -> str:
    return TIGHTENS if new < old else LOOSENS


def _higher(old: Any, new: Any) -> str:
    return TIGHTENS if new > old else LOOSENS


def refresh_days(value: str | None) -> float:
    """The refresh period in days; a budget that never refreshes has an infinite one."""
    match = re.fullmatch(r"P(\d+)D", value or "")
    return float(match[1]) if match and int(match[1]) > 0 else math.inf


def _longer_refresh(old: Any, new: Any) -> str:
    return TIGHTENS if refresh_days(new) > refresh_days(old) else LOOSENS


def _fewer_purposes(old: Any, new: Any) -> str:
    return TIGHTENS if set(new) <= set(old) else LOOSENS


def _later_start(old: Any, new: Any) -> str:
    # No start date: open from creation, the earliest start there is.
    if new is None:
        return LOOSENS
    return TIGHTENS if old is None or new > old else LOOSENS


def _earlier_end(old: Any, new: Any) -> str:
    # No end date: open for ever, the latest end there is.
    if new is None:
        return LOOSENS
    return TIGHTENS if old is None or new < old else LOOSENS


RULES: Mapping[str, Rule] = MappingProxyType(
    {
        "epsilon_budget": Rule("lower: each partner may spend less privacy loss", _lower),
        "delta_budget": Rule("lower: each partner's delta is smaller", _lower),
        "min_users_per_row": Rule("higher: released rows need more people", _higher),
        "max_groups_per_user": Rule("lower: a person counts in fewer groups of a release", _lower),
        "max_count_per_user": Rule("lower: a person's rows count for less in a COUNT", _lower),
        "max_epsilon_per_run": Rule("lower: each run may spend less", _lower),
        "budget_refresh": Rule("longer, and `null` (never refreshes) tightest", _longer_refresh),
        "purposes": Rule("fewer: removing purposes tightens, adding any loosens", _fewer_purposes),
        "fairness_min_ratio": Rule("higher: more campaigns are flagged for review", _higher),
        "starts_at": Rule("later (no date: open from creation, the loosest)", _later_start),
        "ends_at": Rule("earlier (no date: open for ever, the loosest)", _earlier_end),
    }
)
DATES = ("starts_at", "ends_at")


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any
    effect: str  # TIGHTENS | LOOSENS

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "from": _json(self.old), "to": _json(self.new),
                "effect": self.effect}  # fmt: skip


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _same(field: str, old: Any, new: Any) -> bool:
    if field == "purposes":
        return set(old) == set(new)
    if field == "budget_refresh":
        return refresh_days(old) == refresh_days(new)
    return bool(old == new)


def classify(field: str, old: Any, new: Any) -> Change | None:
    """The change of one field, or None when it does not change."""
    if _same(field, old, new):
        return None
    return Change(field, old, new, RULES[field].effect(old, new))


def policy_changes(old: CollaborationPolicy, new: CollaborationPolicy) -> list[Change]:
    """Every policy field that differs, in the policy's key order."""
    before, after = old.to_dict(), new.to_dict()
    found = (classify(key, before[key], after[key]) for key in CollaborationPolicy.KEYS)
    return [c for c in found if c is not None]


def date_changes(
    old: tuple[datetime | None, datetime | None], new: tuple[datetime | None, datetime | None]
) -> list[Change]:
    """``starts_at`` / ``ends_at`` changes."""
    found = (classify(field, o, n) for field, o, n in zip(DATES, old, new, strict=True))
    return [c for c in found if c is not None]


def markdown_table() -> str:
    """The rules as Markdown (``docs/concepts.md`` holds exactly this; a test checks)."""
    lines = ["| field | tighter is |", "|---|---|"]
    lines += [f"| `{field}` | {rule.tighter} |" for field, rule in RULES.items()]
    return "\n".join(lines)
