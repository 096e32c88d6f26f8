"""The permission table is complete and documented: every action the use cases check is in it,
every role has a place, and ``docs/concepts.md`` holds the role and action tables as they are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cleanroom import permissions
from cleanroom.errors import Forbidden
from cleanroom.permissions import ACTIONS, OWN_ORG, PERMISSIONS, ROLE_PLACES, ROLES, Principal
from cleanroom.services.access import require_scope

ROOT = Path(__file__).resolve().parent.parent
_CHECKED = re.compile(
    r"""(?:authorize|check_allowed|allowed|can)\([^)]*?["']([a-z_]+\.[a-z_]+)["']"""
)


def test_the_docs_hold_the_tables() -> None:
    text = (ROOT / "docs" / "concepts.md").read_text(encoding="utf-8")
    assert permissions.markdown_roles() in text
    assert permissions.markdown_actions() in text


def test_every_checked_action_is_in_the_table() -> None:
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "cleanroom").rglob("*.py")]
    checked = {m for text in sources for m in _CHECKED.findall(text)}
    assert len(checked) > 15, "the scan found too few actions: is the pattern still right?"
    assert checked <= set(ACTIONS), sorted(checked - set(ACTIONS))


def test_every_role_has_a_place_and_every_action_known_roles() -> None:
    assert set(ROLE_PLACES) == set(ROLES)
    for action in ACTIONS.values():
        assert action.roles <= set(ROLES), action.name
        assert action.description
        assert PERMISSIONS[action.name] == action.roles


def test_an_own_org_action_is_refused_on_another_orgs_object() -> None:
    admin = Principal("alice", "shopco", "retailer_admin")
    assert ACTIONS["dataset.delete"].scope == OWN_ORG
    require_scope(admin, "dataset.delete", "shopco", "the dataset")
    with pytest.raises(Forbidden, match="own organization"):
        require_scope(admin, "dataset.delete", "acme", "the dataset")
    require_scope(admin, "run.cancel", "acme", "the run")  # collaboration-wide for the admin
