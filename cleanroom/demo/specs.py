"""The demo collaboration: its policy, the six dataset specs (docs/specs.md) and who owns each.

Bounds are chosen so they rarely bind on the demo world, so that a report's noisy numbers can be
compared with the plain (unbounded) exact answer: amounts per person per group up to 200,000 cents,
units up to 50, row caps well above what any generated shopper has.

>>> specs = demo_dataset_specs()
>>> sorted(specs) == sorted(DATASET_OWNERS)
True
>>> from cleanroom.types import CollaborationPolicy, DatasetSpec
>>> policy = CollaborationPolicy.from_dict(DEMO_POLICY)
>>> all(DatasetSpec.from_dict(s).check_against_policy(policy) is None for s in specs.values())
True
"""

from __future__ import annotations

import copy
from typing import Any

RETAILER_ORG = "retailer"
ADVERTISER_ORG = "acme"
ADVERTISER_BRAND = "acme"

REGIONS = ("north", "south", "east", "west")
RETAIL_SEGMENTS = ("family", "young_professional", "senior", "student")
LOYALTY_TIERS = ("bronze", "silver", "gold")
CRM_SEGMENTS = ("loyal", "lapsed", "prospect")
PLACEMENTS = ("search", "display", "homepage", "offsite", "instore_screen")
EXPOSURE_CHANNELS = ("onsite", "offsite", "instore")
PURCHASE_CHANNELS = ("online", "instore")
CATEGORIES = ("snacks", "beverages", "household", "personal_care")
CELLS = ("test", "holdout")
AGE_BANDS = ("18-34", "35-54", "55+")  # the demo's sensitive attribute (a protected-class proxy)

# The privacy side is the default policy's (cleanroom.specs.CollaborationPolicy): at most 2
# epsilon per run, a delta budget of 1e-6, and runs at epsilon 1 (DEFAULT_RUN_EPSILON, what
# `cleanroom run` and the console spend unless told otherwise). Only the epsilon budget is larger
# than the default 10: the demo runs all thirteen shipped templates and four fairness checks at
# once, 17 runs, where a real collaboration would spread them over budget periods.
# Contribution bounds are looser than the defaults so that they never bind on the demo world and
# a release can be compared with the plain exact answer: a person touches at most 5 groups of any
# shipped template (last touch by campaign x placement) and has at most 30 impressions per
# campaign (the generator's cap); min_users_per_row 20 keeps the small frequency and time buckets.
DEFAULT_RUN_EPSILON = 1.0
DEMO_POLICY: dict[str, Any] = {
    "epsilon_budget": 20.0,
    "delta_budget": 1e-6,
    "min_users_per_row": 20,
    "max_groups_per_user": 8,
    "max_count_per_user": 30,
    "max_epsilon_per_run": 2.0,
    "budget_refresh": None,
    "purposes": ["measurement", "audience_sizing", "fairness"],
    # A fairness analysis flags a campaign for review when a group's reach rate is below this
    # share of the overall rate and the interval of the ratio excludes it.
    "fairness_min_ratio": 0.8,
}

DATASET_OWNERS: dict[str, str] = {
    "customers": RETAILER_ORG,
    "exposures": RETAILER_ORG,
    "transactions": RETAILER_ORG,
    "holdout": RETAILER_ORG,
    "crm": ADVERTISER_ORG,
    "campaign_spend": ADVERTISER_ORG,
}

_BOTH_PURPOSES = ["measurement", "audience_sizing"]
_WITH_FAIRNESS = [*_BOTH_PURPOSES, "fairness"]
_CONSENT = {"role": "consent", "purpose": "measurement"}

_SPECS: dict[str, dict[str, Any]] = {
    "customers": {
        "name": "customers",
        "kind": "personal",
        "max_rows_per_user": 5,
        "retention_days": 365,
        "purposes": _WITH_FAIRNESS,
        "columns": {
            "email": {"role": "identifier"},
            "age_band": {"role": "sensitive", "values": list(AGE_BANDS)},
            "region": {"role": "dimension", "values": list(REGIONS)},
            "segment": {"role": "dimension", "values": list(RETAIL_SEGMENTS)},
            "loyalty_tier": {"role": "dimension", "values": list(LOYALTY_TIERS)},
            "consent_measurement": _CONSENT,
        },
    },
    "exposures": {
        "name": "exposures",
        "kind": "personal",
        "max_rows_per_user": 500,
        "retention_days": 365,
        "purposes": _WITH_FAIRNESS,
        "columns": {
            "email": {"role": "identifier"},
            "campaign_id": {"role": "dimension"},
            "placement": {"role": "dimension", "values": list(PLACEMENTS)},
            "exposure_ts": {"role": "timestamp"},
            "channel": {"role": "dimension", "values": list(EXPOSURE_CHANNELS)},
        },
    },
    "transactions": {
        "name": "transactions",
        "kind": "personal",
        "max_rows_per_user": 2000,
        "retention_days": 730,
        "purposes": _WITH_FAIRNESS,
        "columns": {
            "email": {"role": "identifier"},
            "txn_ts": {"role": "timestamp"},
            "brand": {"role": "dimension"},
            "category": {"role": "dimension", "values": list(CATEGORIES)},
            "channel": {"role": "dimension", "values": list(PURCHASE_CHANNELS)},
            "amount_cents": {"role": "metric", "bounds": [0, 200000], "aggregates": ["SUM", "AVG"]},
            "units": {"role": "metric", "bounds": [0, 50], "aggregates": ["SUM", "AVG"]},
            "consent_measurement": _CONSENT,
            "postal_code": {"role": "blocked"},
        },
    },
    "holdout": {
        "name": "holdout",
        "kind": "personal",
        "max_rows_per_user": 20,
        "retention_days": 365,
        "purposes": ["measurement"],
        "columns": {
            "email": {"role": "identifier"},
            "campaign_id": {"role": "dimension"},
            "cell": {"role": "dimension", "values": list(CELLS)},
            "randomized": {"role": "dimension", "values": ["yes", "no"]},
            "assigned_ts": {"role": "timestamp"},
        },
    },
    "crm": {
        "name": "crm",
        "kind": "personal",
        "max_rows_per_user": 5,
        "retention_days": 365,
        "purposes": _BOTH_PURPOSES,
        "columns": {
            "email": {"role": "identifier"},
            "segment": {"role": "dimension", "values": list(CRM_SEGMENTS)},
        },
    },
    "campaign_spend": {
        "name": "campaign_spend",
        "kind": "reference",
        "columns": {
            "campaign_id": {"role": "dimension"},
            "spend_cents": {"role": "metric"},
        },
    },
}


def demo_dataset_specs() -> dict[str, dict[str, Any]]:
    """Dataset name -> spec (a fresh copy, docs/specs.md; the identifier column is ``email``)."""
    return copy.deepcopy(_SPECS)


def demo_collaboration_spec(
    template_purpose: str = "measurement",
) -> dict[str, Any]:
    """The file ``cleanroom validate --spec`` reads: the policy and every demo dataset spec."""
    return {
        "policy": copy.deepcopy(DEMO_POLICY),
        "datasets": list(demo_dataset_specs().values()),
        "template": {"parameters": [], "purpose": template_purpose},
    }
