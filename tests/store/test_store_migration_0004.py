"""Migration 0004 (collaborations that evolve): the backfill of approvers and approvals, down to
0003 and up again, and the downgrade refusing what 0003 cannot hold. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from cleanroom.store import Collaboration, Store, open_store
from cleanroom.store.migrations.versions.v0004_collaborations_that_evolve import approvers_for
from tests.store.store_fixtures import POLICY, FakeClock
from tests.store.test_store_migrations import _migrate, _stored


@pytest.fixture
def store_0003(database_url: str, clock: FakeClock) -> Iterator[Store]:
    s = open_store(database_url, clock=clock)
    _migrate(s, "0003")
    try:
        yield s
    finally:
        s.close()


def _seed_0003(store: Store) -> None:
    """A collaboration with three datasets and templates in three states, in 0003's columns."""
    meta = sa.MetaData()
    meta.reflect(store.engine)
    t = meta.tables
    at = _stored(store, datetime(2026, 1, 5, tzinfo=UTC))
    with store.engine.begin() as conn:
        conn.execute(t["organizations"].insert(), [
            {"id": "shopco", "kind": "retailer", "created_at": at},
            {"id": "acme", "kind": "advertiser", "created_at": at},
        ])  # fmt: skip
        conn.execute(t["collaborations"].insert(), {
            "id": "col", "name": "q3", "retailer_org": "shopco", "policy": POLICY,
            "created_at": at, "created_by": "alice",
        })  # fmt: skip
        conn.execute(t["memberships"].insert(), [
            {"collaboration_id": "col", "org": "shopco", "role": "retailer"},
            {"collaboration_id": "col", "org": "acme", "role": "partner"},
        ])  # fmt: skip
        conn.execute(t["datasets"].insert(), [
            {"id": f"ds_{name}", "collaboration_id": "col", "name": name, "owner_org": owner,
             "kind": kind, "spec": {}, "created_at": at}
            for name, owner, kind in (("tx", "shopco", "personal"), ("crm", "acme", "personal"),
                                      ("spend", "acme", "reference"))
        ])  # fmt: skip
        for tid, status, decided_by in (
            ("tpl_pending", "pending", None),
            ("tpl_approved", "approved", "alice"),
            ("tpl_revoked", "revoked", "rita"),
        ):
            conn.execute(t["templates"].insert(), {
                "id": tid, "collaboration_id": "col", "name": tid, "version": 1, "org": "acme",
                "submitted_by": "bob", "sql": "SELECT 1", "parameters": [],
                "purpose": "measurement", "bounds": {}, "status": status, "pin": "p",
                "analysis": {"datasets": ["tx", "crm", "spend"]}, "reason": "ok",
                "decided_by": decided_by, "decided_at": at if decided_by else None,
                "created_at": at,
            })  # fmt: skip


def test_upgrade_backfills_approvers_and_the_retailers_approvals(store_0003: Store) -> None:
    _seed_0003(store_0003)
    store_0003.migrate()
    pending = store_0003.get_template("tpl_pending")
    assert [(a.org, a.capacity, a.datasets, a.decision) for a in pending.approvals] == [
        ("shopco", "retailer", ("crm", "spend", "tx"), None),
        ("acme", "data_owner", ("crm",), None),  # the rule from now on: the CRM's owner too
    ]
    assert pending.awaiting_approval == ("shopco", "acme")
    approved = store_0003.get_template("tpl_approved")  # decided under the former rule
    assert [(a.org, a.decision, a.decided_by, a.reason) for a in approved.approvals] == [
        ("shopco", "approved", "alice", "ok")
    ]
    revoked = store_0003.get_template("tpl_revoked")
    assert [(a.org, a.decision) for a in revoked.approvals] == [("shopco", None)]
    collab = store_0003.get_collaboration("col")
    assert (collab.starts_at, collab.ends_at, collab.revision) == (None, None, 0)
    assert collab.partner_orgs == ("acme",)
    assert all(m.joined_at is None and m.active for m in collab.members)
    # the backfilled pending version now needs both approvals
    assert store_0003.decide_as_approver("tpl_pending", "rita", "approved").status == "pending"
    done = store_0003.decide_as_approver("tpl_pending", "ana", "approved", org="acme")
    assert done.status == "approved"


def test_the_backfill_rule_matches_the_service_rule() -> None:
    owners = {"tx": ("shopco", "personal"), "crm": ("acme", "personal")}
    assert approvers_for("shopco", ["tx"], owners, decided=False) == [
        {"org": "shopco", "as": "retailer", "datasets": ["tx"]}
    ]
    assert approvers_for("shopco", ["crm"], owners, decided=True) == [
        {"org": "shopco", "as": "retailer", "datasets": ["crm"]}
    ]


def test_down_to_0003_and_up_again(store: Store, collab: Collaboration) -> None:
    t = store.submit_template(collab.id, "conv", "acme", "bob", "SELECT 1", [], "measurement")
    store.decide_as_approver(t.id, "alice", "approved")
    store.add_partner(collab.id, "gamma")
    _migrate(store, "0003", down=True)
    _migrate(store, "head")
    again = store.get_template(t.id)
    assert again.status == "approved"
    assert [(a.org, a.decision) for a in again.approvals] == [("shopco", "approved")]
    assert store.get_collaboration(collab.id).partner_orgs == ("acme", "beta", "gamma")


DOWNGRADE_BLOCKERS: dict[str, tuple[Callable[[Store, Collaboration], object], str]] = {
    "ended membership": (
        lambda s, c: s.end_membership(c.id, "beta", "alice"),
        "the membership of beta",
    ),
    "end date": (
        lambda s, c: s.update_collaboration(
            c.id, {"ends_at": datetime(2026, 6, 1, tzinfo=UTC)}, expected_revision=c.revision
        ),
        "has a start or end date",
    ),
    "budget raise": (
        lambda s, c: s.change_budget(c.id, "acme", add=(1.0, 0.0)),
        "the budget of acme",
    ),
    "owner approval awaited": (
        lambda s, c: s.submit_template(
            c.id,
            "crm",
            "acme",
            "bob",
            "SELECT 1",
            [],
            "measurement",
            approvers=[
                {"org": "shopco", "as": "retailer", "datasets": ["crm"]},
                {"org": "acme", "as": "data_owner", "datasets": ["crm"]},
            ],
        ),
        "awaits a data owner's approval",
    ),
}


@pytest.mark.parametrize("blocker", sorted(DOWNGRADE_BLOCKERS))
def test_downgrade_refuses_what_0003_cannot_hold(
    store: Store, collab: Collaboration, blocker: str
) -> None:
    change, message = DOWNGRADE_BLOCKERS[blocker]
    change(store, collab)
    with pytest.raises(RuntimeError, match=f"cannot downgrade below 0004: .*{message}"):
        _migrate(store, "0003", down=True)
    # the failed downgrade rolled back: still at head, the change still in force
    assert store.get_collaboration(collab.id).revision >= collab.revision
    store.add_partner(collab.id, "delta")
