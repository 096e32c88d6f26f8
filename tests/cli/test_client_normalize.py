"""Email/phone normalization and hashing against UID2's published examples.

The vectors below are facts copied from the UID2 documentation page "Normalization and Encoding"
(https://unifiedid.com/docs/getting-started/gs-normalization-encoding, source
IABTechLab/uid2docs docs/getting-started/gs-normalization-encoding.md): input, normalized form,
SHA-256 hex and its base64. Every expected hash was recomputed with hashlib before use.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from cleanroom.client.normalize import hash_normalized, normalize_email, normalize_phone

# (original, normalized, sha256 hex, sha256 base64) from the page's email tables.
UID2_EMAILS = [
    ("MyEmail@example.com", "myemail@example.com",
     "16c18d336f0b250f0e2d907452ceb9658a74ecdae8bc94864c23122a72cc27a5",
     "FsGNM28LJQ8OLZB0Us65ZYp07NrovJSGTCMSKnLMJ6U="),
    ("MYEMAIL@example.com", "myemail@example.com",
     "16c18d336f0b250f0e2d907452ceb9658a74ecdae8bc94864c23122a72cc27a5",
     "FsGNM28LJQ8OLZB0Us65ZYp07NrovJSGTCMSKnLMJ6U="),
    ("My.Email@example.com", "my.email@example.com",
     "e22b53bc6f871274f3a62ab37a3caed7214fc14d676215a96a242fcfada1c81f",
     "4itTvG+HEnTzpiqzejyu1yFPwU1nYhWpaiQvz62hyB8="),
    ("JANESAOIRSE@example.com", "janesaoirse@example.com",
     "d6670e7a92007f1b5ff785f1fc81e53aa6d3d7bd06bdf5c473cdc7286c284b6d",
     "1mcOepIAfxtf94Xx/IHlOqbT170GvfXEc83HKGwoS20="),
    ("JaneSaoirse@example.com", "janesaoirse@example.com",
     "d6670e7a92007f1b5ff785f1fc81e53aa6d3d7bd06bdf5c473cdc7286c284b6d",
     "1mcOepIAfxtf94Xx/IHlOqbT170GvfXEc83HKGwoS20="),
    ("jane.saoirse@example.com", "jane.saoirse@example.com",
     "b196432c7b989a2ca91c83799957c515da53e6c13abf20b78fea94f117e90bf8",
     "sZZDLHuYmiypHIN5mVfFFdpT5sE6vyC3j+qU8RfpC/g="),
    ("Jane.Saoirse@example.com", "jane.saoirse@example.com",
     "b196432c7b989a2ca91c83799957c515da53e6c13abf20b78fea94f117e90bf8",
     "sZZDLHuYmiypHIN5mVfFFdpT5sE6vyC3j+qU8RfpC/g="),
    ("JaneSaoirse+Work@example.com", "janesaoirse+work@example.com",
     "28aaee4815230cd3b4ebd88c515226550666e91ac019929e3adac3f66c288180",
     "KKruSBUjDNO069iMUVImVQZm6RrAGZKeOtrD9mwogYA="),
    ("JANE.SAOIRSE@gmail.com", "janesaoirse@gmail.com",
     "92ee26057ed9dea2535d6c8b141d48373932476599196e00352254896db5888f",
     "ku4mBX7Z3qJTXWyLFB1INzkyR2WZGW4ANSJUiW21iI8="),
    ("Jane.Saoirse@gmail.com", "janesaoirse@gmail.com",
     "92ee26057ed9dea2535d6c8b141d48373932476599196e00352254896db5888f",
     "ku4mBX7Z3qJTXWyLFB1INzkyR2WZGW4ANSJUiW21iI8="),
    ("JaneSaoirse+Work@gmail.com", "janesaoirse@gmail.com",
     "92ee26057ed9dea2535d6c8b141d48373932476599196e00352254896db5888f",
     "ku4mBX7Z3qJTXWyLFB1INzkyR2WZGW4ANSJUiW21iI8="),
    ("user@example.com", "user@example.com",
     "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514",
     "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="),
]  # fmt: skip

# The same page: the un-normalized "JANESaoirse@gmail.com" hashes to a different value.
UID2_UNNORMALIZED = ("JANESaoirse@gmail.com", "VpLXEp5N1bj/V1WzjgZsC+FfuYdntAOywSVIO00FD/E=")

# Phone: "1 (234) 567-8901" normalizes to "+12345678901" with the hash below; the page's
# Sydney example "(02) 1234 5678" normalizes to "+61212345678".
UID2_PHONE = ("+12345678901", "10e6f0b47054a83359477dcb35231db6de5c69fb1816e1a6b98e192de9e5b9ee",
              "EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=")  # fmt: skip


@pytest.mark.parametrize(("original", "normalized", "hex_digest", "b64_digest"), UID2_EMAILS)
def test_uid2_email_vectors(
    original: str, normalized: str, hex_digest: str, b64_digest: str
) -> None:
    assert normalize_email(original) == normalized
    assert hash_normalized(normalized) == hex_digest
    assert base64.b64encode(bytes.fromhex(hex_digest)).decode() == b64_digest


def test_uid2_unnormalized_email_hashes_differently() -> None:
    raw, b64 = UID2_UNNORMALIZED
    assert base64.b64encode(hashlib.sha256(raw.encode()).digest()).decode() == b64
    assert normalize_email(raw) == "janesaoirse@gmail.com"


def test_uid2_phone_vectors() -> None:
    normalized, hex_digest, b64_digest = UID2_PHONE
    assert normalize_phone("1 (234) 567-8901", None) == normalized
    assert normalize_phone("+1 (234) 567-8901", None) == normalized
    assert normalize_phone("(234) 567-8901", "US") == normalized
    assert hash_normalized(normalized) == hex_digest
    assert base64.b64encode(bytes.fromhex(hex_digest)).decode() == b64_digest
    assert normalize_phone("(02) 1234 5678", "AU") == "+61212345678"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Jane Doe@Example.COM\t", "janedoe@example.com"),  # all whitespace, not just the ends
        ("jane.doe+promo@googlemail.com", "janedoe@googlemail.com"),
        ("jane.doe+promo@gmail.co.uk", "jane.doe+promo@gmail.co.uk"),  # only the two domains
        ("a@b@c.com", None),
        ("@example.com", None),
        ("jane@", None),
        ("+tag@gmail.com", None),  # nothing left of the local part
        ("", None),
        (None, None),
    ],
)
def test_email_rules(raw: str | None, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("0044 20 7946 0958", None, "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("12", None, None),
        ("not a phone", "US", None),
        ("   ", "US", None),
        ("+1 234 567 8901 2345 6789", None, None),  # too long to be possible
    ],
)
def test_phone_rules(raw: str, region: str | None, expected: str | None) -> None:
    assert normalize_phone(raw, region) == expected
