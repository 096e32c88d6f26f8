"""The budget ledger: atomic check-and-charge, exhaustion, refresh periods, races.

Budget is spent only the way production spends it, with the run it pays for
(``create_run_with_charge``); what the ledger stored is read back through the production reads
or, for the charge rows themselves, a plain query (``recorded_charges``)."""

from __future__ import annotations

import multiprocessing

import pytest

from cleanroom.errors import BudgetExhausted, InvalidRequest, NotFound
from cleanroom.store import Collaboration, Store, Template
from tests.store.ledger_race import charge_in_threads
from tests.store.store_fixtures import FakeClock, event, recorded_charges, run_with_charge, spend


def test_charges_add_up(store: Store, collab: Collaboration, clock: FakeClock) -> None:
    line = spend(store, collab.id, "acme", 1.5, 1e-7, audit=event("budget.charged"))
    assert (line.spent_epsilon, line.remaining_epsilon) == (1.5, 8.5)
    clock.advance(seconds=1)
    line = spend(store, collab.id, "acme", 2.5, 1e-7)
    assert line.spent_epsilon == 4.0
    assert line.spent_delta == pytest.approx(2e-7)
    budget = {b.org: b for b in store.get_budget(collab.id)}
    assert set(budget) == {"acme", "beta"}
    assert budget["acme"].to_dict()["remaining"]["epsilon"] == 6.0
    assert budget["beta"].spent_epsilon == 0.0
    assert budget["beta"].total_epsilon == 10.0
    assert store.get_budget_line(collab.id, "acme") == budget["acme"]
    assert [c.epsilon for c in recorded_charges(store, collab.id, "acme")] == [1.5, 2.5]
    assert store.list_audit(collab.id)[-1].details["epsilon"] == 1.5


def test_an_overdraft_is_refused_and_writes_nothing(store: Store, collab: Collaboration) -> None:
    spend(store, collab.id, "acme", 9.0, 0.0)
    audit_before = store.list_audit(collab.id)
    with pytest.raises(BudgetExhausted) as info:
        spend(store, collab.id, "acme", 1.5, 0.0, audit=event("budget.charged"))
    assert info.value.requested == {"epsilon": 1.5, "delta": 0.0}
    assert info.value.remaining == {"epsilon": 1.0, "delta": 1e-6}
    assert len(recorded_charges(store, collab.id)) == 1
    assert len(store.list_runs(collab.id)) == 1  # the refused run was not created
    assert store.list_audit(collab.id) == audit_before
    with pytest.raises(BudgetExhausted):  # delta is a budget too
        spend(store, collab.id, "acme", 0.1, 2e-6)
    # exactly the rest still fits (float tolerance)
    assert spend(store, collab.id, "acme", 1.0, 1e-6).remaining_epsilon == 0.0


def test_a_lines_own_totals_override_the_policy(store: Store, collab: Collaboration) -> None:
    store.change_budget(collab.id, "beta", total=(2.0, None))
    spend(store, collab.id, "beta", 1.0, 0.0)
    with pytest.raises(BudgetExhausted):
        spend(store, collab.id, "beta", 1.5, 0.0)
    assert store.get_budget_line(collab.id, "beta").total_epsilon == 2.0
    assert store.get_budget_line(collab.id, "acme").total_epsilon == 10.0


def test_bad_privacy_loss_is_rejected(store: Store, collab: Collaboration) -> None:
    for eps, delta in ((-1.0, 0.0), (float("nan"), 0.0), (1.0, 1.0)):
        with pytest.raises(InvalidRequest):
            run_with_charge(store, collab.id, "acme", eps, delta)
    assert store.list_runs(collab.id) == []
    assert recorded_charges(store, collab.id) == []


def test_refresh_periods_are_anchored_at_collaboration_creation(
    store: Store, clock: FakeClock
) -> None:
    policy = {"epsilon_budget": 10.0, "budget_refresh": "P30D"}
    collab = store.create_collaboration("monthly", "shopco", ["acme"], policy, "alice")
    spend(store, collab.id, "acme", 10.0, 0.0)
    with pytest.raises(BudgetExhausted):
        spend(store, collab.id, "acme", 1.0, 0.0)
    clock.advance(days=29, hours=23)
    with pytest.raises(BudgetExhausted):
        spend(store, collab.id, "acme", 1.0, 0.0)
    clock.advance(hours=1)  # exactly created_at + 30 days: a new period
    assert spend(store, collab.id, "acme", 4.0, 0.0).spent_epsilon == 4.0


def test_refresh_comes_from_the_policy(store: Store, clock: FakeClock) -> None:
    policy = {"epsilon_budget": 1.0, "budget_refresh": "P7D"}
    collab = store.create_collaboration("weekly", "shopco", ["acme"], policy, "alice")
    spend(store, collab.id, "acme", 1.0, 0.0)
    clock.advance(days=7)
    assert store.get_budget_line(collab.id, "acme").spent_epsilon == 0.0
    spend(store, collab.id, "acme", 1.0, 0.0)
    assert len(recorded_charges(store, collab.id)) == 2


def test_run_and_charge_are_one_transaction(
    store: Store, collab: Collaboration, template: Template
) -> None:
    made = store.create_run_with_charge(
        collab.id, template.id, 1, "acme", "bob", {}, 6.0, 0.0, idempotency_key="k",
        audit=[event("run.created"), event("budget.charged")],
    )  # fmt: skip
    assert made.created
    assert made.run.status == "queued"
    assert [c.run_id for c in recorded_charges(store, collab.id)] == [made.run.id]
    again = store.create_run_with_charge(
        collab.id, template.id, 1, "acme", "bob", {}, 6.0, 0.0, idempotency_key="k"
    )
    assert not again.created
    assert again.run == made.run
    assert len(recorded_charges(store, collab.id)) == 1  # the repeat charged nothing
    with pytest.raises(BudgetExhausted):
        store.create_run_with_charge(collab.id, template.id, 1, "acme", "bob", {}, 6.0, 0.0)
    assert len(store.list_runs(collab.id)) == 1  # the refused run was not created
    assert [a.name for a in store.list_audit(collab.id)][-2:] == ["run.created", "budget.charged"]


def test_racing_runs_are_granted_exactly_what_the_budget_admits(
    store: Store, collab: Collaboration, template: Template, database_url: str
) -> None:
    # 10.0 / 0.25 = 40 admissible charges, 2 processes x 100 threads = 200 attempts.
    processes, threads, epsilon, admitted = 2, 100, 0.25, 40
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        args = [(database_url, collab.id, threads, epsilon, f"p{i}") for i in range(processes)]
        results = pool.starmap(charge_in_threads, args)
    granted = sum(g for g, _ in results)
    refused = sum(r for _, r in results)
    assert (granted, refused) == (admitted, processes * threads - admitted)
    charges = recorded_charges(store, collab.id, "acme")
    assert len(charges) == admitted
    assert sum(c.epsilon for c in charges) == 10.0
    assert store.get_budget_line(collab.id, "acme").remaining_epsilon == 0.0
    runs = store.list_runs(collab.id)
    assert len(runs) == admitted
    assert {c.run_id for c in charges} == {r.id for r in runs}  # one charge per run


def test_running_totals_match_the_recorded_charges(store: Store, collab: Collaboration) -> None:
    spend(store, collab.id, "acme", 0.5, 1e-7)
    assert recorded_charges(store, collab.id)[0].run_id == store.list_runs(collab.id)[0].id
    for _ in range(5):
        line = spend(store, collab.id, "acme", 0.125, 0.0)
    with pytest.raises(BudgetExhausted):
        spend(store, collab.id, "acme", 9.0, 0.0)
    charges = recorded_charges(store, collab.id, "acme")
    assert line.spent_epsilon == sum(c.epsilon for c in charges) == 1.125
    assert line.spent_delta == sum(c.delta for c in charges) == 1e-7
    assert {b.org: b for b in store.get_budget(collab.id)}["acme"] == line


def test_a_line_read_after_its_period_ended_counts_only_the_new_period(
    store: Store, clock: FakeClock
) -> None:
    policy = {"epsilon_budget": 3.0, "budget_refresh": "P10D"}
    collab = store.create_collaboration("tenday", "shopco", ["acme"], policy, "alice")
    spend(store, collab.id, "acme", 2.0, 0.0)
    clock.advance(days=10)  # the stored totals belong to the previous period now
    assert store.get_budget_line(collab.id, "acme").spent_epsilon == 0.0
    assert [b.spent_epsilon for b in store.get_budget(collab.id)] == [0.0]
    assert spend(store, collab.id, "acme", 3.0, 0.0).spent_epsilon == 3.0
    with pytest.raises(BudgetExhausted) as info:
        spend(store, collab.id, "acme", 0.5, 0.0)
    assert info.value.remaining["epsilon"] == 0.0


def test_a_line_charged_in_a_period_is_recounted_when_the_policy_drops_refresh(
    store: Store, clock: FakeClock
) -> None:
    # Charged under a 30-day period; then the policy never refreshes: every charge counts.
    policy = {"epsilon_budget": 10.0, "budget_refresh": "P30D"}
    collab = store.create_collaboration("monthly", "shopco", ["acme"], policy, "alice")
    spend(store, collab.id, "acme", 4.0, 0.0)
    clock.advance(days=31)
    assert spend(store, collab.id, "acme", 1.0, 0.0).spent_epsilon == 1.0
    store.update_collaboration(collab.id, {"policy": {"epsilon_budget": 10.0}}, expected_revision=0)
    assert store.get_budget_line(collab.id, "acme").spent_epsilon == 5.0
    assert spend(store, collab.id, "acme", 1.0, 0.0).spent_epsilon == 6.0
    with pytest.raises(BudgetExhausted) as info:
        spend(store, collab.id, "acme", 4.5, 0.0)
    assert info.value.remaining["epsilon"] == 4.0


def test_an_unknown_collaboration_has_no_budget(store: Store, template: Template) -> None:
    with pytest.raises(NotFound):
        store.create_run_with_charge(
            "col_missing", template.id, template.version, "acme", "bob", {}, 1.0, 0.0
        )
    with pytest.raises(NotFound):
        store.get_budget_line("col_missing", "acme")
    with pytest.raises(NotFound):
        store.get_budget("col_missing")


def test_a_zero_delta_budget_never_spends_delta(store: Store, clock: FakeClock) -> None:
    """Pure DP: the relative tolerance is zero for a zero total, so no delta at all fits."""
    policy = {"epsilon_budget": 5.0, "delta_budget": 0.0}
    collab = store.create_collaboration("pure", "shopco", ["acme"], policy, "alice")
    for delta in (1e-9, 1e-15, 5e-324):
        with pytest.raises(BudgetExhausted) as info:
            spend(store, collab.id, "acme", 0.1, delta)
        assert "needs delta=" in info.value.detail
        assert "epsilon=" not in info.value.detail
    assert recorded_charges(store, collab.id) == []
    assert store.list_runs(collab.id) == []
    assert spend(store, collab.id, "acme", 0.1, 0.0).spent_delta == 0.0


def test_a_tiny_delta_budget_is_never_overspent(store: Store) -> None:
    policy = {"epsilon_budget": 5.0, "delta_budget": 1e-10}
    collab = store.create_collaboration("tiny", "shopco", ["acme"], policy, "alice")
    spend(store, collab.id, "acme", 0.1, 6e-11)
    with pytest.raises(BudgetExhausted) as info:
        spend(store, collab.id, "acme", 0.1, 6e-11)
    assert info.value.remaining["delta"] == pytest.approx(4e-11)
    assert "needs delta=6e-11 but only delta=4e-11 remains" in info.value.detail
    line = spend(store, collab.id, "acme", 0.1, 4e-11)  # exactly the rest fits
    assert line.spent_delta <= 1e-10 * (1 + 1e-9)
    assert line.remaining_delta == 0.0


def test_the_refusal_names_the_coordinate_that_binds(store: Store, collab: Collaboration) -> None:
    with pytest.raises(BudgetExhausted) as info:
        spend(store, collab.id, "acme", 11.0, 0.0)
    assert "needs epsilon=11 but only epsilon=10 remains in the budget (short by 1)" in (
        info.value.detail
    )
