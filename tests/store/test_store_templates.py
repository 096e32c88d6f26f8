"""Template versions and every legal and illegal transition."""

from __future__ import annotations

import threading

import pytest

from cleanroom.errors import Conflict, NotFound
from cleanroom.events import AuditEvent
from cleanroom.store import Collaboration, Store, Template
from tests.store.store_fixtures import event


def _submit(store: Store, cid: str, name: str = "conv") -> Template:
    return store.submit_template(
        cid, name, "acme", "bob", "SELECT 1", [{"name": "d", "type": "int"}], "measurement",
        bounds={"sales": [0, 100]}, analysis={"cost": 1}, pin="p0",
        audit=event("template.submitted"),
    )  # fmt: skip


def _decide(
    store: Store, template_id: str, action: str, who: str, audit: AuditEvent | None = None
) -> Template:
    """``approve``, ``reject`` or ``revoke`` as ``services.templates`` does it (the retailer)."""
    if action == "revoke":
        return store.revoke_template(template_id, who, audit=audit)
    decision = {"approve": "approved", "reject": "rejected"}[action]
    return store.decide_as_approver(template_id, who, decision, audit=audit)


def test_resubmitting_a_name_creates_the_next_version(store: Store, collab: Collaboration) -> None:
    v1 = _submit(store, collab.id)
    v2 = _submit(store, collab.id)
    other = _submit(store, collab.id, "reach")
    assert (v1.version, v2.version, other.version) == (1, 2, 1)
    assert v1.id != v2.id
    assert v2.status == "pending"
    listed = store.list_templates(collab.id)
    assert [(t.name, t.version) for t in listed] == [("conv", 1), ("conv", 2), ("reach", 1)]
    assert dict(v1.bounds) == {"sales": [0, 100]}
    assert v1.parameters[0]["name"] == "d"
    assert store.list_audit(collab.id)[-1].details == {
        "template_id": other.id, "name": "reach", "version": 1,
    }  # fmt: skip


def test_approve_then_revoke(store: Store, collab: Collaboration) -> None:
    t = _submit(store, collab.id)
    approved = store.decide_as_approver(t.id, "alice", "approved", audit=event("template.approved"))
    assert (approved.status, approved.pin, approved.decided_by) == ("approved", "p0", "alice")
    assert approved.decided_at is not None
    revoked = store.revoke_template(t.id, "alice", reason="kill switch")
    assert (revoked.status, revoked.reason) == ("revoked", "kill switch")
    assert store.list_templates(collab.id) == [revoked]


def test_reject(store: Store, collab: Collaboration) -> None:
    t = _submit(store, collab.id)
    rejected = store.decide_as_approver(t.id, "alice", "rejected", reason="too broad")
    assert (rejected.status, rejected.pin) == ("rejected", "p0")


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ("pending", "revoke"),
        ("approved", "approve"),
        ("approved", "reject"),
        ("rejected", "approve"),
        ("rejected", "reject"),
        ("rejected", "revoke"),
        ("revoked", "approve"),
        ("revoked", "reject"),
        ("revoked", "revoke"),
    ],
)
def test_illegal_transitions_conflict_and_change_nothing(
    store: Store, collab: Collaboration, setup: str, action: str
) -> None:
    t = _submit(store, collab.id)
    if setup in ("approved", "revoked"):
        _decide(store, t.id, "approve", "alice")
    if setup == "revoked":
        _decide(store, t.id, "revoke", "alice")
    if setup == "rejected":
        _decide(store, t.id, "reject", "alice")
    before = store.get_template(t.id)
    audit_before = len(store.list_audit(collab.id))
    with pytest.raises(Conflict):
        _decide(store, t.id, action, "mallory", audit=event("template.approved"))
    assert store.get_template(t.id) == before
    assert len(store.list_audit(collab.id)) == audit_before


def test_unknown_or_foreign_template_is_not_found(store: Store, collab: Collaboration) -> None:
    with pytest.raises(NotFound):
        store.decide_as_approver("tpl_missing", "alice", "approved")
    t = _submit(store, collab.id)
    with pytest.raises(NotFound):
        store.get_template(t.id, collaboration_id="col_other")


def test_two_concurrent_decisions_have_one_winner(store: Store, collab: Collaboration) -> None:
    t = _submit(store, collab.id)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def decide(action: str) -> None:
        barrier.wait()
        try:
            _decide(store, t.id, action, "alice")
            outcomes.append(action)
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=decide, args=(a,)) for a in ("approve", "reject")]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(outcomes) == 2
    assert outcomes.count("conflict") == 1
    winner = next(o for o in outcomes if o != "conflict")
    assert store.get_template(t.id).status == {"approve": "approved", "reject": "rejected"}[winner]
