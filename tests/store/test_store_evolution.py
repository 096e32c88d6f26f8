"""The store side of collaborations that evolve: amendments under a revision, memberships that
end and start again, budget adjustments under the charge lock, and approvals by every approver
(also when two approve at once). SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from cleanroom.errors import BudgetExhausted, Conflict, InvalidRequest, NotFound
from cleanroom.store import Collaboration, Store, Template
from tests.store.store_fixtures import event, spend

APPROVERS = [
    {"org": "shopco", "as": "retailer", "datasets": ["crm", "tx"]},
    {"org": "acme", "as": "data_owner", "datasets": ["crm"]},
]


def test_an_amendment_needs_the_revision_it_was_decided_on(
    store: Store, collab: Collaboration
) -> None:
    ends = datetime(2026, 6, 1, tzinfo=UTC)
    policy = {**collab.policy, "min_users_per_row": 80}
    updated = store.update_collaboration(
        collab.id, {"policy": policy, "ends_at": ends}, expected_revision=0,
        audit=event("collaboration.updated", "alice", "shopco"),
    )  # fmt: skip
    assert (updated.revision, updated.ends_at, updated.policy["min_users_per_row"]) == (1, ends, 80)
    with pytest.raises(Conflict, match="changed while this update was decided"):
        store.update_collaboration(collab.id, {"ends_at": None}, expected_revision=0)
    assert store.get_collaboration(collab.id).ends_at == ends
    assert [a.details.get("revision") for a in store.list_audit(collab.id)][1:] == [1]


def test_a_policy_change_moves_every_line_with_its_adjustment(
    store: Store, collab: Collaboration
) -> None:
    spend(store, collab.id, "acme", 1.0, 0.0)
    before, after = store.change_budget(collab.id, "beta", add=(2.5, 0.0))
    assert (before.total_epsilon, after.total_epsilon) == (10.0, 12.5)
    store.update_collaboration(
        collab.id, {"policy": {**collab.policy, "epsilon_budget": 6.0}}, expected_revision=0
    )
    totals = {line.org: line.total_epsilon for line in store.get_budget(collab.id)}
    assert totals == {"acme": 6.0, "beta": 8.5}
    assert store.get_budget_line(collab.id, "beta").total_epsilon == 8.5


def test_a_raise_is_spendable_at_once_and_a_charge_never_exceeds_it(
    store: Store, collab: Collaboration
) -> None:
    spend(store, collab.id, "acme", 10.0, 0.0)
    with pytest.raises(BudgetExhausted):
        spend(store, collab.id, "acme", 1.0, 0.0)
    _, raised = store.change_budget(
        collab.id, "acme", add=(1.5, 0.0), audit=event("budget.raised", "alice", "shopco")
    )
    assert (raised.total_epsilon, raised.remaining_epsilon) == (11.5, 1.5)
    assert spend(store, collab.id, "acme", 1.5, 0.0).remaining_epsilon == 0.0
    with pytest.raises(BudgetExhausted) as refused:
        spend(store, collab.id, "acme", 0.5, 0.0)
    assert refused.value.remaining["epsilon"] == 0.0
    (audited,) = [a for a in store.list_audit(collab.id) if a.name == "budget.raised"]
    assert audited.details["previous_total"]["epsilon"] == 10.0
    assert audited.details["total"]["epsilon"] == 11.5
    assert audited.details["partner_org"] == "acme"


def test_a_raise_only_change_never_lowers(store: Store, collab: Collaboration) -> None:
    with pytest.raises(InvalidRequest, match="a raise can only add"):
        store.change_budget(collab.id, "acme", total=(4.0, None), raise_only=True)
    with pytest.raises(InvalidRequest, match="already has these totals"):
        store.change_budget(collab.id, "acme", total=(10.0, None), raise_only=True)
    assert store.get_budget_line(collab.id, "acme").total_epsilon == 10.0
    _, lowered = store.change_budget(collab.id, "acme", total=(4.0, None))  # a partner's own
    assert (lowered.total_epsilon, lowered.total_delta) == (4.0, 1e-6)


def test_memberships_end_and_start_again(store: Store, collab: Collaboration) -> None:
    spend(store, collab.id, "beta", 2.0, 0.0)
    ended = store.end_membership(
        collab.id, "beta", "alice", audit=event("partner.removed", "alice", "shopco")
    )
    assert (ended.partner_orgs, ended.former_partner_orgs) == (("acme",), ("beta",))
    assert ended.member_role("beta") == "partner"  # still a reader
    member = ended.membership("beta")
    assert member is not None
    assert (member.ended_by, member.active) == ("alice", False)
    with pytest.raises(Conflict, match="already ended"):
        store.end_membership(collab.id, "beta", "alice")
    with pytest.raises(NotFound):
        store.end_membership(collab.id, "nobody", "alice")
    with pytest.raises(InvalidRequest, match="retailer's membership cannot end"):
        store.end_membership(collab.id, "shopco", "alice")
    back = store.add_partner(collab.id, "beta", audit=event("partner.added", "alice", "shopco"))
    assert back.partner_orgs == ("acme", "beta")
    assert store.get_budget_line(collab.id, "beta").spent_epsilon == 2.0
    added = [a.details for a in store.list_audit(collab.id) if a.name == "partner.added"]
    assert added == [{"partner_org": "beta", "rejoined": True}]
    assert store.get_collaboration(collab.id).revision == 2


def test_a_new_partner_with_its_own_budget(store: Store, collab: Collaboration) -> None:
    store.add_partner(collab.id, "gamma", budget=(3.0, 1e-7))
    line = store.get_budget_line(collab.id, "gamma")
    assert (line.total_epsilon, line.total_delta, line.spent_epsilon) == (3.0, 1e-7, 0.0)
    with pytest.raises(BudgetExhausted):
        spend(store, collab.id, "gamma", 3.5, 0.0)


def _crm_template(store: Store, collab: Collaboration) -> Template:
    return store.submit_template(
        collab.id, "crm", "acme", "bob", "SELECT 1", [], "measurement", pin="pin-2",
        approvers=APPROVERS,
    )  # fmt: skip


def test_every_approver_approves_once_and_the_last_approval_approves(
    store: Store, collab: Collaboration
) -> None:
    t = _crm_template(store, collab)
    assert t.awaiting_approval == ("shopco", "acme")
    first = store.decide_as_approver(t.id, "alice", "approved", reason="fine")
    assert (first.status, first.awaiting_approval) == ("pending", ("acme",))
    with pytest.raises(Conflict, match="shopco already approved"):
        store.decide_as_approver(t.id, "alice", "approved")
    with pytest.raises(Conflict, match="beta is not an approver"):
        store.decide_as_approver(t.id, "zoe", "approved", org="beta")
    done = store.decide_as_approver(t.id, "bob", "approved", org="acme")
    assert (done.status, done.pin, done.decided_by, done.awaiting_approval) == (
        "approved", "pin-2", "bob", (),
    )  # fmt: skip
    assert [(a.org, a.decided_by, a.reason) for a in done.approvals] == [
        ("shopco", "alice", "fine"), ("acme", "bob", None),
    ]  # fmt: skip
    assert store.list_templates(collab.id)[0].approvals == done.approvals


def test_one_rejection_rejects(store: Store, collab: Collaboration) -> None:
    t = _crm_template(store, collab)
    rejected = store.decide_as_approver(t.id, "bob", "rejected", org="acme", reason="no")
    assert rejected.status == "rejected"
    with pytest.raises(Conflict, match="a rejected template cannot be approved"):
        store.decide_as_approver(t.id, "alice", "approved")


def _approve_at_once(store: Store, template_id: str) -> list[str]:
    """The retailer and the data owner approve in two threads released together: statuses."""
    results: list[str] = []
    barrier = threading.Barrier(2)

    def approve(org: str, who: str) -> None:
        barrier.wait()
        decided = store.decide_as_approver(
            template_id, who, "approved", org=org, audit=event("template.approved", who, org)
        )
        results.append(decided.status)

    threads = [
        threading.Thread(target=approve, args=("shopco", "alice")),
        threading.Thread(target=approve, args=("acme", "bob")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_approvers_at_once_approve_exactly_once(store: Store, collab: Collaboration) -> None:
    for _ in range(3):
        t = _crm_template(store, collab)
        assert sorted(_approve_at_once(store, t.id)) == ["approved", "pending"]
        assert store.get_template(t.id).status == "approved"
    assert store.verify_audit(collab.id).ok
