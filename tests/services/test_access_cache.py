"""Access checks read collaborations through a short-lived per-process cache that can never
widen access: refusals are decided on a fresh read of the store."""

from __future__ import annotations

import pytest

from cleanroom.errors import NotFound
from cleanroom.services.access import member_collaboration
from cleanroom.services.collaborations import create_collaboration
from cleanroom.services.context import Services
from cleanroom.types import Principal
from tests.services.conftest import ADMIN, ANALYST

NEWCOMER = Principal("nina", "newco", "advertiser")


def test_members_are_served_from_the_cache(svc: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    collab = create_collaboration(svc, ADMIN, "cached", [ANALYST.org], None)
    reads: list[str] = []
    original = svc.store.get_collaboration

    def counting(collaboration_id: str) -> object:
        reads.append(collaboration_id)
        return original(collaboration_id)

    monkeypatch.setattr(svc.store, "get_collaboration", counting)
    for _ in range(5):
        assert member_collaboration(svc, ANALYST, collab.id).id == collab.id
    assert len(reads) == 1


def test_a_partner_added_later_is_seen_at_once_and_outsiders_stay_out(svc: Services) -> None:
    collab = create_collaboration(svc, ADMIN, "growing", [ANALYST.org], None)
    member_collaboration(svc, ANALYST, collab.id)  # cached without newco
    with pytest.raises(NotFound):
        member_collaboration(svc, NEWCOMER, collab.id)
    svc.store.add_partner(collab.id, NEWCOMER.org)
    assert member_collaboration(svc, NEWCOMER, collab.id).id == collab.id
    with pytest.raises(NotFound):
        member_collaboration(svc, Principal("eve", "elsewhere", "advertiser"), collab.id)
