"""Collaborations, memberships, organizations and the suppression list."""

from __future__ import annotations

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from cleanroom.errors import InternalError, InvalidRequest, NotFound
from cleanroom.store import Collaboration, Store
from cleanroom.store.models import OrganizationRow
from tests.store.store_fixtures import POLICY, FakeClock, event, run_with_charge


def test_create_and_read_a_collaboration(store: Store, collab: Collaboration) -> None:
    assert collab.retailer_org == "shopco"
    assert collab.partner_orgs == ("acme", "beta")
    assert collab.member_role("acme") == "partner"
    assert collab.member_role("nobody") is None
    assert dict(collab.policy) == POLICY
    assert collab.created_at.tzinfo is not None
    assert store.get_collaboration(collab.id) == collab
    with Session(store.engine) as session:  # organizations are created on first reference
        found = session.execute(select(OrganizationRow.id, OrganizationRow.kind)).all()
    kinds = {org: kind for org, kind in found}
    assert kinds == {"shopco": "retailer", "acme": "advertiser", "beta": "advertiser"}
    assert collab.to_dict()["partner_orgs"] == ["acme", "beta"]


def test_list_collaborations_by_member(
    store: Store, collab: Collaboration, clock: FakeClock
) -> None:
    clock.advance(seconds=1)
    other = store.create_collaboration("other", "shopco", ["gamma"], POLICY, "alice")
    assert [c.id for c in store.list_collaborations()] == [collab.id, other.id]
    assert [c.id for c in store.list_collaborations("acme")] == [collab.id]
    assert [c.id for c in store.list_collaborations("shopco")] == [collab.id, other.id]
    assert store.list_collaborations("stranger") == []


def test_add_partner_is_idempotent(store: Store, collab: Collaboration) -> None:
    store.add_partner(collab.id, "gamma", audit=event("collaboration.created"))
    again = store.add_partner(collab.id, "gamma", audit=event("collaboration.created"))
    assert again.partner_orgs == ("acme", "beta", "gamma")
    # only the first call changed anything, so only it was audited
    assert [a.details.get("partner_org") for a in store.list_audit(collab.id)][1:] == ["gamma"]


def test_unknown_collaboration_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_collaboration("col_missing")
    with pytest.raises(NotFound):
        store.add_suppressions("col_missing", [b"\x01" * 32])


def test_retailer_cannot_be_its_own_partner(store: Store) -> None:
    with pytest.raises(InvalidRequest):
        store.create_collaboration("bad", "shopco", ["shopco"], POLICY, "alice")


def test_suppressions_are_idempotent(store: Store, collab: Collaboration) -> None:
    a, b, c = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
    assert store.add_suppressions(collab.id, [a, b, b]) == 2
    assert store.add_suppressions(collab.id, [b, c]) == 1
    assert store.add_suppressions(collab.id, [a, b, c]) == 0
    assert store.list_suppressed_pids(collab.id) == [a, b, c]
    assert store.count_suppressions(collab.id) == 3


def test_suppressions_are_per_collaboration(store: Store, collab: Collaboration) -> None:
    other = store.create_collaboration("other", "shopco", ["acme"], POLICY, "alice")
    store.add_suppressions(collab.id, [b"\x01" * 32])
    assert store.add_suppressions(other.id, [b"\x01" * 32]) == 1
    assert store.list_suppressed_pids(other.id) == [b"\x01" * 32]


def test_many_suppressions_in_one_call(store: Store, collab: Collaboration) -> None:
    pids = [i.to_bytes(32, "big") for i in range(1, 1201)]
    audit = event("suppression.added", "alice", "shopco")
    assert store.add_suppressions(collab.id, pids, audit=audit) == 1200
    assert store.add_suppressions(collab.id, pids[:700]) == 0
    last = store.list_audit(collab.id)[-1]
    assert last.name == "suppression.added"
    assert last.details["added"] == 1200


def test_a_pid_must_be_32_bytes(store: Store, collab: Collaboration) -> None:
    with pytest.raises(InternalError):
        store.add_suppressions(collab.id, [b"short"])
    assert store.count_suppressions(collab.id) == 0


def test_status_reads_take_one_query(store: Store, collab: Collaboration) -> None:
    # The API's metadata reads (run status, template, collaboration) are one round trip each.
    template = store.submit_template(collab.id, "t", "acme", "bob", "SELECT 1", [], "measurement")
    run = run_with_charge(store, collab.id, "acme", 0.5, 0.0).run
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa_event.listen(store.engine, "before_cursor_execute", count)
    try:
        for read in (
            lambda: store.get_collaboration(collab.id),
            lambda: store.get_template(template.id),
            lambda: store.get_run(run.id),
            lambda: store.get_budget_line(collab.id, "acme"),
        ):
            statements.clear()
            read()
            assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", count)
    assert store.get_collaboration(collab.id) == collab
