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


def _local_part(rng: np.random.Generator, first: str, last: str) -> str:
    style = int(rng.integers(0, 6))
    digits = str(int(rng.integers(1, 1000)))
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


def _display_case(rng: np.random.Generator, local: str) -> str:
    """How the address owner typed it at sign-up: mostly lower case, sometimes capitalized."""
    if rng.random() < 0.2:
        return ".".join(part.capitalize() for part in local.split("."))
    return local


def make_emails(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` addresses of distinct people (distinct after normalization)."""
    seen: set[str] = set()
    out: list[str] = []
    domains = rng.choice(len(DOMAINS), size=count * 2, p=DOMAIN_WEIGHTS)
    attempt = 0
    while len(out) < count:
        domain = DOMAINS[int(domains[attempt % len(domains)])]
        attempt += 1
        first = FIRST_NAMES[int(rng.integers(0, len(FIRST_NAMES)))]
        last = LAST_NAMES[int(rng.integers(0, len(LAST_NAMES)))]
        local = _local_part(rng, first, last)
        if attempt > count * 2:  # name space crowded: disambiguate like real sign-ups do
            local += str(int(rng.integers(1000, 100000)))
        email = f"{_display_case(rng, local)}@{domain}"
        key = identity_key(email)
        if key in seen:
            continue
        seen.add(key)
        out.append(email)
    return out


def respell(rng: np.random.Generator, email: str) -> str:
    """The same person's address as another system recorded it (same normalized identity)."""
    local, _, domain = email.partition("@")
    choice = int(rng.integers(0, 4))
    if domain.lower() == GMAIL:
        if choice == 0:
            tag = PLUS_TAGS[int(rng.integers(0, len(PLUS_TAGS)))]
            return f"{local}+{tag}@{domain}"
        if choice == 1:
            plain = local.replace(".", "")
            cut = int(rng.integers(1, max(2, len(plain))))
            dotted = plain if "." in local else f"{plain[:cut]}.{plain[cut:]}"
            return f"{dotted.upper() if rng.random() < 0.3 else dotted}@{domain}"
        if choice == 2:
            return f"{local.upper()}@GMail.com"
    if choice % 2 == 0:
        return f"{local.capitalize()}@{domain.upper()}"
    return email.upper()
