"""Realistic-looking synthetic email addresses and the ways people spell them differently.

The demo world stores RAW emails, as a retailer and an advertiser would hold them, so that the demo
hashes them client side exactly like a partner (``cleanroom hash``). The same person's address is
often typed differently on the two sides: upper case, dots and ``+tags`` in a Gmail local part.
All such variants must normalize to the same identifier (client.normalize), so variants only
change what normalization removes.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> emails = make_emails(rng, 5)
>>> len(set(identity_key(e) for e in emails))
5
>>> identity_key("Jane.Doe+acme@GMAIL.com") == identity_key("janedoe@gmail.com")
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FIRST_NAMES = (
    "olivia", "liam", "emma", "noah", "ava", "oliver", "sophia", "elijah", "isabella", "james",
    "mia", "william", "amelia", "benjamin", "harper", "lucas", "evelyn", "henry", "abigail",
    "alexander", "emily", "daniel", "ella", "michael", "scarlett", "mateo", "grace", "jack",
    "chloe", "samuel", "priya", "wei", "fatima", "diego", "aisha", "hiroshi", "ana", "omar",
    "lucia", "yusuf", "mei", "carlos", "zara", "ivan", "nadia", "kofi", "sara", "tomas",
)  # fmt: skip
LAST_NAMES = (
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
    "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor",
    "moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris", "sanchez",
    "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen", "king", "wright",
    "scott", "nguyen", "hill", "flores", "green", "adams", "nelson", "baker", "hall", "rivera",
    "campbell", "mitchell", "carter", "patel", "kim", "chen", "singh", "okafor", "novak",
)  # fmt: skip
DOMAINS = (
    "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com",
    "proton.me", "comcast.net",
)  # fmt: skip
DOMAIN_WEIGHTS = (0.45, 0.14, 0.12, 0.08, 0.1, 0.03, 0.04, 0.04)
PLUS_TAGS = ("shopping", "acme", "deals", "news", "retail")
GMAIL = "gmail.com"


def identity_key(email: str) -> str:
    """Who an address belongs to, as normalization sees it (used to keep people distinct).

    Mirrors the email rule of cleanroom.client.normalize (the product's implementation lives in
    ``cleanroom.client``; the tests check that both agree on every generated address).
    """
    local, _, domain = "".join(email.split()).lower().partition("@")
    if domain in ("gmail.com", "googlemail.com"):
        local = local.split("+", 1)[0].replace(".", "")
    return f"{local}@{domain}"


def _local_part(style: int, first: str, last: str, digits: int) -> str:
    if style == 0:
        return f"{first}.{last}"
    if style == 1:
        return f"{first}{last}"
    if style == 2:
        return f"{first[0]}.{last}"
    if style == 3:
        return f"{first}_{last}{digits}"
    if style == 4:
        return f"{first}.{last}{digits}"
    return f"{first}{digits}"


def _display_case(local: str, capitalized: bool) -> str:
    """How the address owner typed it at sign-up: mostly lower case, sometimes capitalized."""
    return ".".join(part.capitalize() for part in local.split(".")) if capitalized else local


def _candidates(rng: np.random.Generator, size: int, crowded: bool) -> list[str]:
    """``size`` candidate addresses, every random choice drawn as one array per field; in a
    ``crowded`` name space a number is appended, as real sign-ups disambiguate."""
    domain = rng.choice(len(DOMAINS), size=size, p=DOMAIN_WEIGHTS)
    first = rng.integers(0, len(FIRST_NAMES), size=size)
    last = rng.integers(0, len(LAST_NAMES), size=size)
    style = rng.integers(0, 6, size=size)
    digits = rng.integers(1, 1000, size=size)
    capitalized = rng.random(size) < 0.2
    suffix = rng.integers(1000, 100000, size=size) if crowded else None
    out = []
    for i, (d, f, la, st, dg, cap) in enumerate(
        zip(domain.tolist(), first.tolist(), last.tolist(), style.tolist(), digits.tolist(),
            capitalized.tolist(), strict=True)
    ):  # fmt: skip
        local = _local_part(st, FIRST_NAMES[f], LAST_NAMES[la], dg)
        if suffix is not None:
            local += str(int(suffix[i]))
        out.append(f"{_display_case(local, cap)}@{DOMAINS[d]}")
    return out


def make_emails(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` addresses of distinct people (distinct after normalization)."""
    seen: set[str] = set()
    out: list[str] = []
    crowded = False
    while len(out) < count:
        for email in _candidates(rng, 2 * (count - len(out)), crowded):
            key = identity_key(email)
            if key not in seen:
                seen.add(key)
                out.append(email)
                if len(out) == count:
                    break
        crowded = True  # after a round of plain names: disambiguate like real sign-ups do
    return out


def _respelled(email: str, choice: int, tag: int, cut: float, upper: bool) -> str:
    local, _, domain = email.partition("@")
    if domain.lower() == GMAIL:
        if choice == 0:
            return f"{local}+{PLUS_TAGS[tag]}@{domain}"
        if choice == 1:
            plain = local.replace(".", "")
            at = 1 + int(cut * (max(2, len(plain)) - 1))
            dotted = plain if "." in local else f"{plain[:at]}.{plain[at:]}"
            return f"{dotted.upper() if upper else dotted}@{domain}"
        if choice == 2:
            return f"{local.upper()}@GMail.com"
    if choice % 2 == 0:
        return f"{local.capitalize()}@{domain.upper()}"
    return email.upper()


def respell_many(rng: np.random.Generator, emails: Sequence[str]) -> list[str]:
    """Each address as another system recorded it (same normalized identity); the random
    choices are drawn as arrays, so millions of rows take seconds."""
    n = len(emails)
    choice = rng.integers(0, 4, size=n).tolist()
    tag = rng.integers(0, len(PLUS_TAGS), size=n).tolist()
    cut = rng.random(n).tolist()
    upper = (rng.random(n) < 0.3).tolist()
    return [
        _respelled(e, c, t, u, up)
        for e, c, t, u, up in zip(emails, choice, tag, cut, upper, strict=True)
    ]


def respell(rng: np.random.Generator, email: str) -> str:
    """The same person's address as another system recorded it (same normalized identity)."""
    return respell_many(rng, [email])[0]


def respell_some(rng: np.random.Generator, emails: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """``emails`` (an object array) with the addresses where ``chosen`` is true respelled."""
    out = emails.copy()
    picked = np.flatnonzero(chosen)
    out[picked] = respell_many(rng, emails[picked].tolist())
    return out
