"""Raw emails of the demo world normalize (``cleanroom.client.normalize``) to one identifier per
person, whichever side and spelling they come from."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from cleanroom.demo.emails import identity_key, respell
from cleanroom.demo.world import World

normalize = pytest.importorskip("cleanroom.client.normalize")


def _digest(email: str) -> str:
    return hashlib.sha256(normalize.normalize_email(email).encode()).hexdigest()


def test_product_normalization_agrees_with_the_generator(small_world: World) -> None:
    for name in ("customers", "crm", "exposures", "transactions", "holdout"):
        emails = pd.read_csv(small_world.files[name])["email"].drop_duplicates()
        for email in emails:
            assert normalize.normalize_email(email) == identity_key(email), name


def test_respelled_addresses_match_across_sides(small_world: World) -> None:
    customers = pd.read_csv(small_world.files["customers"])["email"]
    crm = pd.read_csv(small_world.files["crm"])["email"]
    retailer = {identity_key(e): _digest(e) for e in customers}
    differently_spelled = [
        e for e in crm if identity_key(e) in retailer and e not in set(customers)
    ]
    assert len(differently_spelled) > 100
    for email in differently_spelled:
        assert _digest(email) == retailer[identity_key(email)]
    matched = sum(_digest(e) in set(retailer.values()) for e in crm)
    assert matched == sum(identity_key(e) in retailer for e in crm)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Jane.Doe@gmail.com", "janedoe+acme@GMAIL.COM"),
        ("j.doe@GMail.com", "J.D.O.E+news@gmail.com"),
        ("Sam.Lee@outlook.com", "SAM.LEE@OUTLOOK.COM"),
    ],
)
def test_planted_spelling_variants_hash_alike(a: str, b: str) -> None:
    assert _digest(a) == _digest(b)


def test_respell_keeps_the_identity() -> None:
    rng = np.random.default_rng(3)
    for email in ("mia.chen@gmail.com", "kofi_okafor12@yahoo.com", "Ana.Lopez@icloud.com"):
        for _ in range(50):
            assert _digest(respell(rng, email)) == _digest(email)
