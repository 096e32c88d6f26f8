"""The demo's people: the retailer's shoppers (with their buying habits) and the advertiser's CRM.

Buying habits are per-shopper Poisson rates; they are kept on the shopper frame (columns starting
with ``_``) for the activity generator and never written to the retailer's files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cleanroom.demo.emails import make_emails, respell_some
from cleanroom.demo.specs import AGE_BANDS, CRM_SEGMENTS, LOYALTY_TIERS, REGIONS, RETAIL_SEGMENTS

BRAND_BUYER_SHARE = 0.55  # shoppers who ever buy the advertiser's brand without ads
BRAND_RATE_PER_DAY = 1 / 70  # mean brand purchase rate of those who do
OTHER_RATE_PER_DAY = 1 / 90  # competitor purchase rate
CONSENT_SHARE = 0.93
AGE_BAND_SHARES = (0.35, 0.4, 0.25)  # over AGE_BANDS
EXTERNAL_CRM_SHARE = 0.15  # CRM people who do not shop at the retailer, relative to shoppers
_REGION_POSTAL_PREFIX = {"north": "10", "south": "30", "east": "20", "west": "90"}


def make_people(
    rng: np.random.Generator, shoppers: int, age_rng: np.random.Generator | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Shoppers of the retailer, and the addresses of outside people the advertiser knows.
    Age bands come from ``age_rng`` (its own stream, so that adding them changed no other
    column of a seeded world)."""
    external = int(shoppers * EXTERNAL_CRM_SHARE)
    emails = make_emails(rng, shoppers + external)
    region = rng.choice(np.array(REGIONS), size=shoppers, p=[0.3, 0.25, 0.25, 0.2])
    tier = rng.choice(np.array(LOYALTY_TIERS), size=shoppers, p=[0.6, 0.3, 0.1])
    buys_brand = rng.random(shoppers) < BRAND_BUYER_SHARE
    brand_rate = rng.gamma(1.2, BRAND_RATE_PER_DAY / 1.2, size=shoppers)
    brand_rate = np.where(buys_brand, brand_rate, 0.0) * np.where(tier == "gold", 1.3, 1.0)
    postal_suffix = rng.integers(0, 1000, size=shoppers)
    people = pd.DataFrame(
        {
            "email": emails[:shoppers],
            "region": region,
            "segment": rng.choice(
                np.array(RETAIL_SEGMENTS), size=shoppers, p=[0.35, 0.3, 0.2, 0.15]
            ),
            "loyalty_tier": tier,
            "consent_measurement": rng.random(shoppers) < CONSENT_SHARE,
            "_brand_rate": brand_rate,
            "_other_rate": rng.gamma(1.5, OTHER_RATE_PER_DAY / 1.5, size=shoppers),
            "_online_share": rng.beta(2.0, 3.0, size=shoppers),
            "_postal_code": pd.Categorical(
                [
                    f"{_REGION_POSTAL_PREFIX[r]}{s:03d}"
                    for r, s in zip(region.tolist(), postal_suffix.tolist(), strict=True)
                ]
            ),
        }
    )
    age_rng = age_rng if age_rng is not None else np.random.default_rng(0)
    people["age_band"] = age_rng.choice(np.array(AGE_BANDS), size=shoppers, p=AGE_BAND_SHARES)
    return people, emails[shoppers:]


def customers_table(people: pd.DataFrame) -> pd.DataFrame:
    """The retailer's ``customers`` file: one row per shopper."""
    columns = ["email", "age_band", "region", "segment", "loyalty_tier", "consent_measurement"]
    return people[columns].copy()


def crm_table(rng: np.random.Generator, people: pd.DataFrame, external: list[str]) -> pd.DataFrame:
    """The advertiser's CRM list: brand buyers (mostly), some other shoppers, outside prospects.

    Segments follow the brand habit (with some staleness, as CRM data has): ``loyal`` for frequent
    buyers, ``lapsed`` for occasional ones, ``prospect`` for people who do not buy the brand. A
    third of the addresses are spelled differently from the retailer's copy.
    """
    rate = people["_brand_rate"].to_numpy()
    keep = rng.random(len(people)) < np.where(rate > 0, 0.7, 0.15)
    segment = np.where(rate > BRAND_RATE_PER_DAY, "loyal", np.where(rate > 0, "lapsed", "prospect"))
    stale = rng.random(len(people)) < 0.1
    segment = np.where(stale, rng.choice(np.array(CRM_SEGMENTS), size=len(people)), segment)
    kept = people["email"].to_numpy(dtype=object)[keep]
    emails = respell_some(rng, kept, rng.random(len(kept)) < 0.35).tolist()
    crm = pd.DataFrame(
        {
            "email": emails + external,
            "segment": segment[keep].tolist() + ["prospect"] * len(external),
        }
    )
    return crm.iloc[rng.permutation(len(crm))].reset_index(drop=True)
