"""The empirical epsilon audit, end to end, over the template families retail media runs.

Each family is compiled by the real policy compiler, executed by the real DuckDB engine on a
dataset D and its neighbour D' (one adversarial person more, per block; see
:mod:`tests.dp.e2e_audit` for why every block is an independent true-neighbour draw), and
released many times by ``cleanroom.dp.release`` on the two fixed exact tables. The adversaries:

* last touch (two-dataset join on pid + ROW_NUMBER window): exposures to more campaigns than a
  person may touch, then many purchases of absurd amounts after each one;
* EXISTS (buyers among the exposed): duplicate exposures beyond the row cap, purchases of absurd
  amounts in more brands than a person may touch, beyond the row cap too;
* clamped SUM and COUNT(*): amounts 10^15 times the bound, dozens of identical rows per brand;
* non-public keys (partition selection): one more person in groups just under the threshold,
  plus a group nobody else has, filled with duplicate rows.

False failures: every bound below holds with probability at least 1 - ALPHA when the release
keeps its claim; there are at most ``MAX_EVENTS`` bounds per family and ``len(FAMILIES)``
families per profile, two profiles, so a run of both profiles fails falsely with probability at
most 1e-6. The exact-table checks involve no noise. The last assertion (the event is more frequent
on D' than on D, so the audit is not vacuous) has, at every lambda the calibration may choose,
true frequencies at least 10 standard deviations apart in the default profile (for example 0.109
against 0.049 for COUNT(*) at lambda 0.25, 10,000 draws a side): it fails falsely with
probability below 1e-18.

Claims and expected bounds (default profile, 10,000 draws a side): every measurement of the
public-key families gets epsilon 1 and the adversary moves it by its full L1 sensitivity, so the
box event reaches a likelihood ratio of about e^0.9 to e^1; the lower bound comes out near 0.5.
With partition selection the adversary spends one of its four groups on a group of its own, so
the selection event over the other three reaches e^0.75 of the claimed 1.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cleanroom.config import Settings
from cleanroom.dp import PrivacyLoss
from cleanroom.specs import ParamSpec
from tests.dp.e2e_audit import Family, Rows, World, audit, person
from tests.policy.collab import DATASETS, POLICY

pytestmark = pytest.mark.slow

MAX_EVENTS = 3
LONG_MARK = "long_audit"
DAY0 = dt.datetime(2024, 3, 1)
HUGE = 10**15  # far beyond amount_cents' bounds [0, 50000]; 220 of them still fit in BIGINT


def _day(n: float) -> dt.datetime:
    return DAY0 + dt.timedelta(days=n)


def _ids(key: Any, slots: int) -> Any:
    return lambda blocks: {"ids": [key(k, s) for k in range(blocks) for s in range(slots)]}


IDS = (ParamSpec("ids", "list[str]"),)
BASE = 60  # people per group: under D a moved group is suppressed with probability < 2e-6


# (a) last touch: a join of two personal datasets on pid and a window per purchase.

LAST_TOUCH = """
WITH touches AS (
    SELECT t.pid, e.campaign_id, t.amount_cents,
           ROW_NUMBER() OVER (PARTITION BY t.pid, t.txn_ts ORDER BY e.exposure_ts DESC) AS rn
    FROM transactions t JOIN exposures e ON e.pid = t.pid AND e.exposure_ts <= t.txn_ts
    WHERE e.campaign_id IN :ids
)
SELECT campaign_id, COUNT(DISTINCT pid) AS buyers, SUM(amount_cents) AS sales
FROM touches WHERE rn = 1 GROUP BY campaign_id
"""


def _campaign(k: int, s: int) -> str:
    return f"b{k:04d}-campaign{s}"


def _last_touch_base(rows: Rows, k: int, world: World) -> None:
    for s in range(5):
        for i in range(BASE):
            p = person(f"lt-{k}-{s}-{i}")
            rows.add("exposures", p, campaign_id=_campaign(k, s), exposure_ts=_day(0))
            rows.add("transactions", p, txn_ts=_day(1), brand="acme", amount_cents=1_000, units=1)


def _last_touch_adversary(rows: Rows, k: int, world: World) -> None:
    """Exposed to 5 campaigns (a person may touch 4), each followed by 44 purchases of 10^15
    before the next exposure: 220 purchases, over the row cap of 200, so every campaign keeps at
    least 24 of them and its last-touch sum is far beyond the bound."""
    p = person(f"lt-adversary-{k}")
    for s in range(5):
        rows.add(
            "exposures", p, copies=2, campaign_id=_campaign(k, s), exposure_ts=_day(10 + 2 * s)
        )
        for j in range(44):
            when = _day(10 + 2 * s) + dt.timedelta(hours=1, minutes=j)
            rows.add("transactions", p, txn_ts=when, brand="acme", amount_cents=HUGE, units=20)


# (b) EXISTS: buyers among the exposed.

EXPOSED_BUYERS = """
SELECT t.brand, COUNT(DISTINCT t.pid) AS buyers, SUM(t.amount_cents) AS sales
FROM transactions t
WHERE t.brand IN :ids
  AND EXISTS (SELECT 1 FROM exposures e WHERE e.pid = t.pid AND e.exposure_ts <= t.txn_ts)
GROUP BY t.brand
"""


def _brand(k: int, s: int) -> str:
    return f"b{k:04d}-brand{s}"


def _exposed_base(rows: Rows, k: int, world: World) -> None:
    for s in range(5):
        for i in range(BASE):  # exposed, then bought
            p = person(f"ex-{k}-{s}-{i}")
            rows.add("exposures", p, campaign_id="c1", exposure_ts=_day(0))
            rows.add("transactions", p, txn_ts=_day(1), brand=_brand(k, s), amount_cents=3_000)
        for i in range(10):  # bought, never exposed (or only afterwards): not counted
            p = person(f"ex-unexposed-{k}-{s}-{i}")
            if i % 2:
                rows.add("exposures", p, campaign_id="c1", exposure_ts=_day(5))
            rows.add("transactions", p, txn_ts=_day(1), brand=_brand(k, s), amount_cents=3_000)


def _exposed_adversary(rows: Rows, k: int, world: World) -> None:
    """120 identical exposures (row cap 100) and 44 purchases of 10^15 in each of 5 brands."""
    p = person(f"ex-adversary-{k}")
    rows.add("exposures", p, copies=120, campaign_id="c1", exposure_ts=_day(0))
    for s in range(5):
        for j in range(44):
            when = _day(1) + dt.timedelta(minutes=j)
            rows.add("transactions", p, txn_ts=when, brand=_brand(k, s), amount_cents=HUGE)


# (c) clamped SUM (and COUNT(*)) of a metric with bounds.

CLAMPED = """
SELECT brand, COUNT(DISTINCT pid) AS buyers, COUNT(*) AS txns, SUM(amount_cents) AS sales
FROM transactions WHERE brand IN :ids GROUP BY brand
"""


def _clamped_base(rows: Rows, k: int, world: World) -> None:
    for s in range(5):
        for i in range(BASE):
            p = person(f"cl-{k}-{s}-{i}")
            rows.add("transactions", p, txn_ts=_day(1), brand=_brand(k, s), amount_cents=1_500)
            rows.add("transactions", p, txn_ts=_day(2), brand=_brand(k, s), amount_cents=500)


def _clamped_adversary(rows: Rows, k: int, world: World) -> None:
    """44 identical rows of 10^15 cents in each of 5 brands (row cap 200, 4 groups a person)."""
    p = person(f"cl-adversary-{k}")
    for s in range(5):
        rows.add(
            "transactions", p, copies=44, txn_ts=_day(3), brand=_brand(k, s), amount_cents=HUGE
        )


# (d) non-public group keys: partition selection by the noisy threshold.

BY_CATEGORY = """
SELECT category, COUNT(DISTINCT pid) AS buyers, SUM(amount_cents) AS sales
FROM transactions GROUP BY category
"""


def _category(k: int, s: int) -> str:
    return f"b{k:04d}-category{s}"


def _selection_base(rows: Rows, k: int, world: World) -> None:
    """Three groups one person short of the threshold: where selection is most sensitive."""
    assert world.threshold is not None
    for s in range(3):
        for i in range(world.threshold - 1):
            p = person(f"sel-{k}-{s}-{i}")
            rows.add("transactions", p, txn_ts=_day(1), category=_category(k, s), amount_cents=900)


def _selection_adversary(rows: Rows, k: int, world: World) -> None:
    """44 rows of 10^15 in each of the three groups, and 88 identical rows in a fourth group of
    its own (220 rows, over the row cap of 200: each group keeps at least 24)."""
    p = person(f"sel-adversary-{k}")
    for s in range(3):
        rows.add(
            "transactions",
            p,
            copies=44,
            txn_ts=_day(2),
            category=_category(k, s),
            amount_cents=HUGE,
        )
    rows.add(
        "transactions", p, copies=88, txn_ts=_day(2), category=_category(k, 3), amount_cents=HUGE
    )


FAMILIES = {
    "last_touch": Family(
        "last_touch",
        LAST_TOUCH,
        IDS,
        PrivacyLoss(2.0),
        5,
        _campaign,
        _ids(_campaign, 5),
        _last_touch_base,
        _last_touch_adversary,
    ),
    "exists": Family(
        "exists",
        EXPOSED_BUYERS,
        IDS,
        PrivacyLoss(2.0),
        5,
        _brand,
        _ids(_brand, 5),
        _exposed_base,
        _exposed_adversary,
    ),
    "clamped_sum": Family(
        "clamped_sum",
        CLAMPED,
        IDS,
        PrivacyLoss(3.0),
        5,
        _brand,
        _ids(_brand, 5),
        _clamped_base,
        _clamped_adversary,
    ),
    "partition_selection": Family(
        "partition_selection",
        BY_CATEGORY,
        (),
        PrivacyLoss(2.0, 1e-6),
        4,
        _category,
        lambda blocks: {},
        _selection_base,
        _selection_adversary,
        new_slots=(3,),
    ),
}
ALPHA = 1e-6 / (2 * len(FAMILIES) * MAX_EVENTS)

# blocks, calibration releases, releases: draws per side = blocks x releases
PROFILES = {"default": (200, 10, 50), "long": (200, 50, 500)}


def _long_selected(config: pytest.Config) -> bool:
    expr = str(config.getoption("markexpr") or "")
    return LONG_MARK in expr and f"not {LONG_MARK}" not in expr


@pytest.mark.parametrize("profile", ["default", pytest.param("long", marks=pytest.mark.long_audit)])
@pytest.mark.parametrize("name", list(FAMILIES))
def test_empirical_epsilon_of_each_template_family_never_exceeds_the_claim(
    name: str, profile: str, settings: Settings, request: pytest.FixtureRequest
) -> None:
    if profile == "long" and not _long_selected(request.config):
        pytest.skip(f"the long audit profile runs with -m {LONG_MARK}")
    blocks, calibration, releases = PROFILES[profile]
    result = audit(
        FAMILIES[name],
        settings,
        POLICY,
        DATASETS,
        blocks=blocks,
        calibration_releases=calibration,
        releases=releases,
        alpha=ALPHA,
    )
    assert len(result.events) <= MAX_EVENTS
    for event in result.events:
        print(event.line())
    failures = result.failures()
    assert not failures, "\n".join(failures)
    for event in result.events:  # the events do see the adversary: the audit is not vacuous
        if event.bounds_epsilon:
            assert event.hits_after > event.hits_before, event.line()
