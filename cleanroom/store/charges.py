"""Charging the privacy-budget ledger inside a write transaction: running totals under one lock.

Per (collaboration, org) there is one ``budgets`` row holding the totals, the spend of the current
refresh period (``spent_epsilon``, ``spent_delta``, ``period_start``) and serving as the lock
target; ``budget_charges`` is the append-only record every charge also writes. A charge is normally
ONE conditional statement::

    UPDATE budgets SET spent = spent + :e, ... WHERE <line> AND period_start = <current period>
        AND spent + :e <= total * (1 + tolerance) RETURNING spent

It locks the row (PostgreSQL: concurrent charges queue on it and re-check the condition on the
row they wait for; SQLite: the ``BEGIN IMMEDIATE`` write lock is already held), so check and
update are atomic, and no scan of past charges is needed. When it changes nothing, the slow path
locks the line (creating it on first use), re-derives the spend from the charges when the stored
period is not the current one (a new refresh period began, or the line predates this scheme), and
tries again; if the charge still does not fit, ``BudgetExhausted`` rolls everything back.

Refresh periods (policy ``budget_refresh`` "PnD"): periods are anchored at the collaboration's
``created_at``; period k covers ``[created_at + k*n days, created_at + (k+1)*n days)`` and only
charges made inside the current period count as spent.

A line's total is ``max(0, policy budget + the line's adjustment)``: the policy's
``epsilon_budget`` / ``delta_budget`` apply to every partner, and ``epsilon_adjustment`` /
``delta_adjustment`` on the line (a raise, or a partner added with a budget of its own) to that
one org. The charge statement reads the adjustment from the row it locks, so a raise and a charge
never see different totals; each charge, raise and policy change stores the resulting totals on
the row, which is what reads return.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Double,
    Select,
    String,
    Table,
    Update,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from cleanroom.budget import allowance, remaining
from cleanroom.errors import BudgetExhausted, InvalidRequest, NotFound
from cleanroom.specs import CollaborationPolicy
from cleanroom.store.db import ensure_org, insert_ignore, new_id
from cleanroom.store.models import BudgetChargeRow, BudgetRow, CollaborationRow, UTCDateTime
from cleanroom.store.records import BudgetLine

_ALLOWANCE = allowance(1.0)  # spend may reach total * _ALLOWANCE
# What a charge needs to know about its line: (policy epsilon, policy delta), current period start.
Terms = tuple[tuple[float, float], datetime | None]
# A line after a statement: (spent epsilon, spent delta, total epsilon, total delta).
LineState = tuple[float, float, float, float]


def period_start(anchor: datetime, refresh_days: int | None, now: datetime) -> datetime | None:
    """Start of the budget period containing ``now`` (None: budgets never refresh).

    >>> from datetime import UTC
    >>> a = datetime(2025, 1, 1, tzinfo=UTC)
    >>> period_start(a, 30, datetime(2025, 3, 5, tzinfo=UTC)).isoformat()
    '2025-03-02T00:00:00+00:00'
    """
    if not refresh_days:
        return None
    length = timedelta(days=refresh_days)
    return anchor + max(0, (now - anchor) // length) * length


def policy_terms(stored: Mapping[str, Any]) -> tuple[tuple[float, float], int | None]:
    """A stored policy's (epsilon_budget, delta_budget) and refresh period in days (or None)."""
    policy = CollaborationPolicy.from_dict(stored)
    match = re.fullmatch(r"P(\d+)D", policy.budget_refresh or "")
    return (policy.epsilon_budget, policy.delta_budget), int(match[1]) if match else None


# The statements of the hot path, built once (bound by name, so SQLAlchemy's compiled cache is
# hit without rebuilding the expression on every charge).
_BUDGETS = cast(Table, BudgetRow.__table__)
_CHARGES = cast(Table, BudgetChargeRow.__table__)
_b = _BUDGETS.c
_LINE = (_b.collaboration_id == bindparam("b_cid"), _b.org == bindparam("b_org"))
_READ_TERMS = select(CollaborationRow.policy, CollaborationRow.created_at).where(
    CollaborationRow.id == bindparam("b_cid")
)


def line_totals(
    policy_totals: tuple[float, float], adjustment: tuple[float, float]
) -> tuple[float, float]:
    """A line's (epsilon, delta) totals: the policy's plus the line's adjustment, never below 0.

    >>> line_totals((10.0, 1e-6), (2.5, 0.0))
    (12.5, 1e-06)
    >>> line_totals((4.0, 1e-6), (-6.0, 0.0))[0]
    0.0
    """
    return (
        max(0.0, policy_totals[0] + adjustment[0]),
        max(0.0, policy_totals[1] + adjustment[1]),
    )


def _total(bound: str, adjustment: ColumnElement[float]) -> ColumnElement[float]:
    """``max(0, :bound + adjustment)`` in SQL (the policy's total is bound, the adjustment read
    from the locked row)."""
    raw: ColumnElement[float] = bindparam(bound, type_=Double()) + adjustment
    return case((raw > 0.0, raw), else_=literal(0.0, Double()))


_TOTAL_E = _total("b_total_e", _b.epsilon_adjustment)
_TOTAL_D = _total("b_total_d", _b.delta_adjustment)
# What a charge or a lock reads back from the line: spend and totals after the statement.
_LINE_STATE = (_b.spent_epsilon, _b.spent_delta, _b.total_epsilon, _b.total_delta)


def _charge_statement(period_clause: ColumnElement[bool]) -> Update:
    return (
        update(_BUDGETS)
        .where(*_LINE, period_clause)
        # cleanroom.budget.fits, in SQL: the relative tolerance is zero for a zero total.
        .where(_b.spent_epsilon + bindparam("b_e", type_=Double()) <= _TOTAL_E * _ALLOWANCE)
        .where(_b.spent_delta + bindparam("b_d", type_=Double()) <= _TOTAL_D * _ALLOWANCE)
        .values(
            spent_epsilon=_b.spent_epsilon + bindparam("b_e", type_=Double()),
            spent_delta=_b.spent_delta + bindparam("b_d", type_=Double()),
            total_epsilon=_TOTAL_E,
            total_delta=_TOTAL_D,
        )
        .returning(*_LINE_STATE)
    )


def _charge_and_record(charge: Update) -> Select[float, float, float, float]:
    """PostgreSQL: the charge and its ``budget_charges`` row in ONE statement (data-modifying
    CTEs), so the row lock is held for one round trip less; no row is recorded when the
    conditional update changes nothing."""
    charged = charge.cte("charged")
    record = insert(_CHARGES).from_select(
        ["id", "collaboration_id", "org", "run_id", "epsilon", "delta", "created_at"],
        select(
            bindparam("c_id", type_=String()),
            bindparam("b_cid", type_=String()),
            bindparam("b_org", type_=String()),
            bindparam("c_run_id", type_=String()),
            bindparam("b_e", type_=Double()),
            bindparam("b_d", type_=Double()),
            bindparam("c_created_at", type_=UTCDateTime()),
        ).select_from(charged),
    )
    state = (charged.c.spent_epsilon, charged.c.spent_delta)
    totals = (charged.c.total_epsilon, charged.c.total_delta)
    return select(*state, *totals).add_cte(record.cte("recorded"))


# The one-statement charge, for a line whose budget never refreshes / is in period ``:period``;
# ``_RECORDED`` also appends the charge row (PostgreSQL only: SQLite has no UPDATE in a CTE).
_CHARGE = {
    False: _charge_statement(_b.period_start.is_(None)),
    True: _charge_statement(_b.period_start == bindparam("b_period")),
}
_RECORDED = {refresh: _charge_and_record(stmt) for refresh, stmt in _CHARGE.items()}
_LOCK = (
    update(_BUDGETS)
    .where(*_LINE)
    .values(total_epsilon=_TOTAL_E, total_delta=_TOTAL_D)
    .returning(*_LINE_STATE, _b.period_start)
)
_INSERT_CHARGE = insert(_CHARGES)


def policy_terms_now(session: Session, collaboration_id: str, now: datetime) -> Terms:
    """The stored policy's totals and the current period; ``NotFound`` for an unknown collab."""
    found = session.connection().execute(_READ_TERMS, {"b_cid": collaboration_id}).one_or_none()
    if found is None:
        raise NotFound("collaboration not found")
    policy, created_at = found
    policy_totals, refresh = policy_terms(policy)
    return policy_totals, period_start(created_at, refresh, now)


def spent_since(
    session: Session, collaboration_id: str, orgs: Sequence[str], since: datetime | None
) -> dict[str, tuple[float, float]]:
    """Sum of the orgs' charges made at or after ``since`` (all of them when None)."""
    query = (
        select(
            BudgetChargeRow.org,
            func.coalesce(func.sum(BudgetChargeRow.epsilon), 0.0),
            func.coalesce(func.sum(BudgetChargeRow.delta), 0.0),
        )
        .where(BudgetChargeRow.collaboration_id == collaboration_id)
        .where(BudgetChargeRow.org.in_(orgs))
        .group_by(BudgetChargeRow.org)
    )
    if since is not None:
        query = query.where(BudgetChargeRow.created_at >= since)
    return {org: (float(e), float(d)) for org, e, d in session.execute(query)}


def check_loss(epsilon: float, delta: float) -> None:
    """``InvalidRequest`` unless epsilon is finite and >= 0 and delta in [0, 1)."""
    if not (math.isfinite(epsilon) and epsilon >= 0):
        raise InvalidRequest("privacy_loss.epsilon must be a finite number >= 0")
    if not (math.isfinite(delta) and 0 <= delta < 1):
        raise InvalidRequest("privacy_loss.delta must be in [0, 1)")


def _try_charge(
    session: Session,
    collaboration_id: str,
    org: str,
    terms: Terms,
    epsilon: float,
    delta: float,
    record: dict[str, Any],
) -> LineState | None:
    """The conditional charge plus its ``budget_charges`` row (``record``); the line's spend and
    totals after it, or None when it changed and recorded nothing (no line yet, stale period,
    does not fit)."""
    (total_e, total_d), period = terms
    params = {
        "b_cid": collaboration_id,
        "b_org": org,
        "b_e": epsilon,
        "b_d": delta,
        "b_total_e": total_e,
        "b_total_d": total_d,
        "b_period": period,
    }
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        params.update(
            c_id=record["id"], c_run_id=record["run_id"], c_created_at=record["created_at"]
        )
        found = conn.execute(_RECORDED[period is not None], params).one_or_none()
        return None if found is None else (found[0], found[1], found[2], found[3])
    found = conn.execute(_CHARGE[period is not None], params).one_or_none()
    if found is None:
        return None
    conn.execute(_INSERT_CHARGE, record)
    return found[0], found[1], found[2], found[3]


def prepare_line(
    session: Session, collaboration_id: str, org: str, terms: Terms, now: datetime
) -> LineState:
    """Lock the line for the rest of the transaction (creating it on first use), set its totals
    and make its spend that of the current period; returns that spend and the totals."""
    (total_e, total_d), period = terms
    conn = session.connection()
    params = {"b_cid": collaboration_id, "b_org": org, "b_total_e": total_e, "b_total_d": total_d}
    found = conn.execute(_LOCK, params).one_or_none()
    if found is None:
        ensure_org(session, org, "advertiser", now)
        first: dict[str, Any] = {
            "collaboration_id": collaboration_id,
            "org": org,
            "total_epsilon": total_e,
            "total_delta": total_d,
            "created_at": now,
            "spent_epsilon": 0.0,
            "spent_delta": 0.0,
            "period_start": period,
        }
        insert_ignore(session, BudgetRow, [first])
        found = conn.execute(_LOCK, params).one()
    spent_e, spent_d, line_e, line_d, stored_period = found
    if stored_period != period:
        recount = spent_since(session, collaboration_id, [org], period)
        spent_e, spent_d = recount.get(org, (0.0, 0.0))
        conn.execute(
            update(_BUDGETS)
            .where(*_LINE)
            .values(spent_epsilon=spent_e, spent_delta=spent_d, period_start=period),
            {"b_cid": collaboration_id, "b_org": org},
        )
    return spent_e, spent_d, line_e, line_d


def _attempt(
    session: Session,
    collaboration_id: str,
    org: str,
    epsilon: float,
    delta: float,
    run_id: str,
    now: datetime,
) -> tuple[Terms, dict[str, Any], LineState | None]:
    check_loss(epsilon, delta)
    terms = policy_terms_now(session, collaboration_id, now)
    record = {
        "id": new_id("chg"),
        "collaboration_id": collaboration_id,
        "org": org,
        "run_id": run_id,
        "epsilon": epsilon,
        "delta": delta,
        "created_at": now,
    }
    return terms, record, _try_charge(session, collaboration_id, org, terms, epsilon, delta, record)


def charge_in_session(
    session: Session,
    collaboration_id: str,
    org: str,
    epsilon: float,
    delta: float,
    run_id: str,
    now: datetime,
) -> BudgetLine:
    """Check and append the charge of run ``run_id`` inside the caller's write transaction
    (see module doc), on the stored policy's totals and refresh period.

    Raises ``BudgetExhausted`` before writing anything when the charge does not fit.
    """
    terms, record, state = _attempt(session, collaboration_id, org, epsilon, delta, run_id, now)
    if state is None:
        before_e, before_d, total_e, total_d = prepare_line(
            session, collaboration_id, org, terms, now
        )
        state = _try_charge(session, collaboration_id, org, terms, epsilon, delta, record)
        if state is None:
            left = {"epsilon": remaining(before_e, total_e), "delta": remaining(before_d, total_d)}
            requested = {"epsilon": epsilon, "delta": delta}
            raise BudgetExhausted(requested=requested, remaining=left)
    return _line(collaboration_id, org, state)


def _line(collaboration_id: str, org: str, state: LineState) -> BudgetLine:
    spent_e, spent_d, total_e, total_d = state
    return BudgetLine(collaboration_id, org, total_e, total_d, spent_e, spent_d)


def refresh_line_totals(session: Session, collaboration_id: str, policy: Mapping[str, Any]) -> None:
    """After a policy change: every line's stored totals become the new policy's budget plus the
    line's adjustment (in the caller's transaction, which changed the policy)."""
    (total_e, total_d), _ = policy_terms(policy)
    session.connection().execute(
        update(_BUDGETS)
        .where(_b.collaboration_id == bindparam("b_cid"))
        .values(total_epsilon=_TOTAL_E, total_delta=_TOTAL_D),
        {"b_cid": collaboration_id, "b_total_e": total_e, "b_total_d": total_d},
    )


def adjust_line(
    session: Session,
    collaboration_id: str,
    org: str,
    now: datetime,
    *,
    add: tuple[float, float] | None = None,
    total: tuple[float | None, float | None] | None = None,
) -> tuple[BudgetLine, BudgetLine]:
    """Change one org's line in the caller's write transaction: ``add`` to its totals, or set
    them to ``total`` (the adjustment becomes ``total - policy``; a None member stays as it is).
    The line is locked (created on first use) first. Returns the line before and after."""
    terms = policy_terms_now(session, collaboration_id, now)
    (policy_e, policy_d), _ = terms
    spent_e, spent_d, before_e, before_d = prepare_line(session, collaboration_id, org, terms, now)
    if total is not None:
        adjustment: tuple[Any, Any] = (
            _b.epsilon_adjustment if total[0] is None else total[0] - policy_e,
            _b.delta_adjustment if total[1] is None else total[1] - policy_d,
        )
    elif add is not None:
        adjustment = (_b.epsilon_adjustment + add[0], _b.delta_adjustment + add[1])
    else:
        raise ValueError("give add or total; this is a bug")
    after = (
        session.connection()
        .execute(
            update(_BUDGETS)
            .where(*_LINE)
            .values(epsilon_adjustment=adjustment[0], delta_adjustment=adjustment[1])
            .returning(_b.epsilon_adjustment, _b.delta_adjustment),
            {"b_cid": collaboration_id, "b_org": org},
        )
        .one()
    )
    total_e, total_d = line_totals((policy_e, policy_d), (after[0], after[1]))
    session.connection().execute(
        update(_BUDGETS).where(*_LINE).values(total_epsilon=total_e, total_delta=total_d),
        {"b_cid": collaboration_id, "b_org": org},
    )
    return (
        BudgetLine(collaboration_id, org, before_e, before_d, spent_e, spent_d),
        BudgetLine(collaboration_id, org, total_e, total_d, spent_e, spent_d),
    )
