"""Partner-side normalization and hashing of emails and phone numbers (``cleanroom hash``).

The rules follow UID2's published "Normalization and Encoding" so that our digests match
theirs (docs/privacy.md):

- email: remove all whitespace, lower-case, exactly one ``@`` with non-empty parts; for
  ``gmail.com`` and ``googlemail.com`` also drop dots and any ``+tag`` from the local part;
- phone: E.164, ``+`` then at most 15 digits, parsed with ``phonenumbers`` (imported only when
  a phone number is normalized, so that hashing emails needs nothing beyond the client);
- digest: SHA-256 of the UTF-8 normalized string, as lower-case hex.

>>> normalize_email("  Jane.Saoirse+Work@GMAIL.com ")
'janesaoirse@gmail.com'
>>> normalize_email("JaneSaoirse+Work@example.com")
'janesaoirse+work@example.com'
>>> normalize_email("not-an-email") is None
True
>>> normalize_phone("1 (234) 567-8901", None)
'+12345678901'
>>> normalize_phone("(02) 1234 5678", "AU")
'+61212345678'
>>> hash_normalized("user@example.com")[:16]
'b4c9a289323b21a0'
"""

from __future__ import annotations

import hashlib

_GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
_MAX_E164_DIGITS = 15


def normalize_email(value: str | None) -> str | None:
    """The normalized email, or None when ``value`` is not an email address."""
    if value is None:
        return None
    compact = "".join(value.split()).lower()
    if compact.count("@") != 1:
        return None
    local, domain = compact.split("@")
    if domain in _GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
    if not local or not domain:
        return None
    return f"{local}@{domain}"


def normalize_phone(value: str | None, default_region: str | None = None) -> str | None:
    """The E.164 form (``+`` and up to 15 digits), or None when ``value`` is not a phone number.

    Without ``default_region`` a number must carry its country code (a leading ``+`` or ``00``
    is optional: ``1 (234) 567-8901`` is read as ``+1 234 567 8901``, as UID2 does). The number
    must be *possible* for its country (right length); full validity is not required because
    numbering-plan metadata lags reality and UID2's own examples are not all "valid" numbers.
    """
    try:
        import phonenumbers  # only phone hashing needs it (docs/client.md)
    except ImportError:
        raise ImportError(
            "hashing phone numbers needs phonenumbers: pip install 'cleanroom[client]'"
        ) from None
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if default_region is None and not text.startswith("+"):
        text = "+" + (text[2:] if text.startswith("00") else text)
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    formatted = str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    digits = formatted[1:]
    if not digits.isdigit() or len(digits) > _MAX_E164_DIGITS:
        return None
    return formatted


def hash_normalized(value: str) -> str:
    """Lower-case hex SHA-256 of the UTF-8 bytes of an already normalized value."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
