"""What the demo's shoppers do: campaign audiences with a randomized holdout, ad exposures, and
purchases (a baseline habit plus the planted effect of each campaign on exposed shoppers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from cleanroom.demo.emails import respell_some
from cleanroom.demo.specs import ADVERTISER_BRAND, AGE_BANDS, PLACEMENTS

TXN_START = datetime(2024, 4, 1)
TXN_END = datetime(2025, 7, 1)  # exclusive; covers the 365 days before the first flight
PLANTED_WINDOW_DAYS = 14
MAX_FREQUENCY = 30  # impressions per person per campaign (below max_count_per_user)
LATE_ADDITION_SHARE = 0.02  # shoppers added to a test cell after randomization
_DAY = 86_400

# brand -> (categories, unit prices in cents)
BRANDS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    ADVERTISER_BRAND: (("snacks", "beverages"), (449, 649)),
    "zenith": (("snacks",), (399,)),
    "bolt": (("beverages",), (579,)),
    "nova": (("household", "personal_care"), (899, 749)),
}
_COMPETITORS = ("zenith", "bolt", "nova")
_PLACEMENT_CHANNEL = {
    "search": "onsite",
    "display": "onsite",
    "homepage": "onsite",
    "offsite": "offsite",
    "instore_screen": "instore",
}


@dataclass(frozen=True)
class Campaign:
    """One campaign of the advertiser and the effect planted for it."""

    campaign_id: str
    start: date
    days: int
    audience_share: float  # share of shoppers targeted
    holdout_share: float  # share of the audience randomized into the holdout cell
    reach: float  # share of the test cell actually exposed
    mean_frequency: float  # impressions per exposed person
    placement_weights: tuple[float, ...]  # over PLACEMENTS
    lift: float  # P(extra brand purchase within 14 days of first exposure), exposed test cell
    spend_cents: int
    # How much less likely each age band (AGE_BANDS) of the test cell is to be exposed: the
    # planted delivery skew a fairness analysis must find (1.0: none).
    reach_by_age: tuple[float, ...] = (1.0, 1.0, 1.0)

    def to_dict(self) -> dict[str, object]:
        return {
            "campaign_id": self.campaign_id,
            "start": self.start.isoformat(),
            "days": self.days,
            "audience_share": self.audience_share,
            "holdout_share": self.holdout_share,
            "reach": self.reach,
            "mean_frequency": self.mean_frequency,
            "placement_weights": dict(zip(PLACEMENTS, self.placement_weights, strict=True)),
            "lift": self.lift,
            "spend_cents": self.spend_cents,
            "reach_by_age": dict(zip(AGE_BANDS, self.reach_by_age, strict=True)),
        }


CAMPAIGNS = (
    Campaign("c1", date(2025, 4, 1), 28, 0.40, 0.2, 0.85, 3.0, (0.35, 0.35, 0.2, 0.1, 0.0), 0.12,
             500_000),
    Campaign("c2", date(2025, 4, 15), 28, 0.35, 0.2, 0.80, 4.0, (0.2, 0.3, 0.1, 0.3, 0.1), 0.08,
             700_000),
    Campaign("c3", date(2025, 5, 1), 28, 0.45, 0.2, 0.90, 2.5, (0.4, 0.2, 0.2, 0.0, 0.2), 0.15,
             600_000, reach_by_age=(1.0, 1.0, 0.35)),  # c3's delivery under-reaches 55+
    Campaign("c4", date(2025, 5, 15), 28, 0.30, 0.2, 0.75, 5.0, (0.1, 0.3, 0.2, 0.3, 0.1), 0.06,
             900_000),
)  # fmt: skip


def _seconds(moment: date) -> int:
    """Seconds from TXN_START to the start of a day."""
    return int((datetime(moment.year, moment.month, moment.day) - TXN_START).total_seconds())


def _timestamps(seconds: np.ndarray) -> pd.Series:
    return pd.Series(pd.Timestamp(TXN_START) + pd.to_timedelta(seconds.astype(np.int64), unit="s"))


@dataclass(frozen=True)
class CampaignActivity:
    holdout: pd.DataFrame
    exposures: pd.DataFrame
    planted: pd.DataFrame  # person, seconds: extra brand purchases caused by the campaigns


def run_campaigns(rng: np.random.Generator, people: pd.DataFrame) -> CampaignActivity:
    """Audiences, randomized holdout cells, exposures of the test cells, and the planted effect."""
    n = len(people)
    emails = people["email"].to_numpy(dtype=object)
    band = pd.Categorical(people["age_band"], categories=AGE_BANDS).codes
    holdouts, exposures, planted = [], [], []
    for c in CAMPAIGNS:
        start = _seconds(c.start)
        in_audience = rng.random(n) < c.audience_share
        audience = np.flatnonzero(in_audience)
        in_holdout = rng.random(len(audience)) < c.holdout_share
        late = np.flatnonzero(~in_audience & (rng.random(n) < LATE_ADDITION_SHARE))
        late_start = start + rng.integers(3, 10, size=len(late)) * _DAY
        holdouts.append(
            pd.DataFrame(
                {
                    "person": np.concatenate([audience, late]),
                    "campaign_id": c.campaign_id,
                    "cell": np.where(
                        np.concatenate([in_holdout, np.zeros(len(late), bool)]), "holdout", "test"
                    ),
                    "randomized": np.where(
                        np.arange(len(audience) + len(late)) < len(audience), "yes", "no"
                    ),
                    "seconds": np.concatenate([np.full(len(audience), start), late_start]),
                }
            )
        )
        test = np.concatenate([audience[~in_holdout], late])
        reached = test[rng.random(len(test)) < c.reach * np.asarray(c.reach_by_age)[band[test]]]
        first = start + rng.uniform(0, 0.75 * c.days * _DAY, size=len(reached)).astype(np.int64)
        count = np.minimum(1 + rng.poisson(c.mean_frequency - 1, size=len(reached)), MAX_FREQUENCY)
        end = start + c.days * _DAY
        person = np.repeat(reached, count)
        base = np.repeat(first, count)
        later = base + (rng.random(len(person)) * (end - base)).astype(np.int64)
        is_first = np.zeros(len(person), bool)
        is_first[np.concatenate([[0], np.cumsum(count)[:-1]])] = True
        placement = rng.choice(len(PLACEMENTS), size=len(person), p=c.placement_weights)
        exposures.append(
            pd.DataFrame(
                {
                    "person": person,
                    "campaign_id": c.campaign_id,
                    "placement": np.array(PLACEMENTS)[placement],
                    "seconds": np.where(is_first, base, later),
                }
            )
        )
        converts = rng.random(len(reached)) < c.lift
        delay = np.minimum(rng.exponential(3 * _DAY, size=int(converts.sum())), 13.5 * _DAY)
        planted.append(
            pd.DataFrame(
                {"person": reached[converts], "seconds": first[converts] + delay.astype(np.int64)}
            )
        )
    hold = pd.concat(holdouts, ignore_index=True)
    holdout = pd.DataFrame(
        {
            "email": emails[hold["person"].to_numpy()],
            "campaign_id": hold["campaign_id"],
            "cell": hold["cell"],
            "randomized": hold["randomized"],
            "assigned_ts": _timestamps(hold["seconds"].to_numpy()),
        }
    )
    exp = pd.concat(exposures, ignore_index=True).sort_values("seconds", kind="stable")
    channel = exp["placement"].map(_PLACEMENT_CHANNEL)
    # Off-site exposures come back from a media partner that records addresses its own way.
    offsite = channel.to_numpy() == "offsite"
    exp_emails = respell_some(
        rng, emails[exp["person"].to_numpy()], offsite & (rng.random(len(exp)) < 0.2)
    )
    exposure_table = pd.DataFrame(
        {
            "email": exp_emails,
            "campaign_id": exp["campaign_id"].to_numpy(),
            "placement": exp["placement"].to_numpy(),
            "exposure_ts": _timestamps(exp["seconds"].to_numpy()).to_numpy(),
            "channel": channel.to_numpy(),
        }
    )
    return CampaignActivity(holdout, exposure_table, pd.concat(planted, ignore_index=True))


def _purchases(rng: np.random.Generator, rate: np.ndarray) -> pd.DataFrame:
    """Poisson purchase times over the whole period for each person at their daily rate."""
    period = int((TXN_END - TXN_START).total_seconds())
    count = rng.poisson(rate * period / _DAY)
    person = np.repeat(np.arange(len(rate)), count)
    return pd.DataFrame({"person": person, "seconds": rng.integers(0, period, size=len(person))})


def transactions_table(
    rng: np.random.Generator, people: pd.DataFrame, planted: pd.DataFrame
) -> pd.DataFrame:
    """Brand purchase lines: the brand habit, competitors' habit and the planted purchases."""
    names = list(BRANDS)  # brands as codes into this list until the table is built
    brand_rows = pd.concat([_purchases(rng, people["_brand_rate"].to_numpy()), planted])
    brand_rows["brand"] = names.index(ADVERTISER_BRAND)
    other = _purchases(rng, people["_other_rate"].to_numpy())
    competitors = np.array([names.index(b) for b in _COMPETITORS])
    other["brand"] = competitors[rng.integers(0, len(_COMPETITORS), size=len(other))]
    rows = pd.concat([brand_rows, other], ignore_index=True)
    rows = rows.sort_values(["seconds", "person"], kind="stable").reset_index(drop=True)
    brand, pick = rows["brand"].to_numpy(), rng.random(len(rows))
    all_categories = sorted({c for cats, _ in BRANDS.values() for c in cats})
    category = np.zeros(len(rows), dtype=np.int64)
    price = np.zeros(len(rows), dtype=np.int64)
    for code, (cats, prices) in enumerate(BRANDS.values()):
        mine = np.flatnonzero(brand == code)
        which = (pick[mine] * len(cats)).astype(np.int64)
        category[mine] = np.array([all_categories.index(c) for c in cats])[which]
        price[mine] = np.array(prices)[which]
    units = rng.choice(np.array([1, 2, 3, 4]), size=len(rows), p=[0.6, 0.25, 0.1, 0.05])
    discount = rng.choice(np.array([1.0, 0.9, 0.8]), size=len(rows), p=[0.7, 0.2, 0.1])
    person = rows["person"].to_numpy()
    online = rng.random(len(rows)) < people["_online_share"].to_numpy()[person]
    emails = people["email"].to_numpy(dtype=object)
    # A few in-store purchases carry the address as typed at the till.
    txn_emails = respell_some(rng, emails[person], ~online & (rng.random(len(rows)) < 0.05))
    return pd.DataFrame(
        {
            "email": txn_emails,
            "txn_ts": _timestamps(rows["seconds"].to_numpy()).to_numpy(),
            "brand": pd.Categorical.from_codes(brand, pd.Index(names)),
            "category": pd.Categorical.from_codes(category, pd.Index(all_categories)),
            "channel": pd.Categorical.from_codes(
                online.astype(np.int8), pd.Index(["instore", "online"])
            ),
            "amount_cents": np.round(units * price * discount).astype(np.int64),
            "units": units,
            "consent_measurement": people["consent_measurement"].to_numpy()[person],
            "postal_code": people["_postal_code"].array.take(person),
        }
    )
