"""Identifier values as SQL: SHA-256 digests in, 32-byte digest blobs out, raw PII refused.

An uploaded identifier must be a SHA-256 digest: 64 hex characters (any case) or 44 base64
characters (standard or url-safe alphabet, ``=`` padded). The digest *bytes* are what get keyed,
so the hex and base64 spellings of one digest give the same pid. Blank values are dropped (they
never join); values that look like raw email addresses or phone numbers fail the upload with a
message telling the owner to hash them first; anything else fails as "not a SHA-256 digest".

Everything here builds DuckDB SQL so that a whole file is checked and re-keyed vectorized.
"""

from __future__ import annotations

from dataclasses import dataclass

from cleanroom.errors import DatasetInvalid

_BLOB_TYPES = ("BLOB", "BYTEA", "VARBINARY")


def quote(name: str) -> str:
    """A DuckDB identifier for any column name (source headers are arbitrary text)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def blank(column_sql: str) -> str:
    """TRUE where a text value is NULL, empty or whitespace only.

    Checked without ``trim`` (which allocates): a value whose first character is printable is
    not blank, and only the others reach the regular expression. This is on the hot path of
    every text column.
    """
    v = column_sql
    return (
        f"(CASE WHEN {v} IS NULL THEN TRUE WHEN ascii({v}) > 32 THEN FALSE "
        f"ELSE regexp_full_match({v}, '\\s*') END)"
    )


def stripped(column_sql: str) -> str:
    """The text without surrounding whitespace (used only on the rare rows that need it)."""
    return f"regexp_replace({column_sql}, '^\\s+|\\s+$', '', 'g')"


@dataclass(frozen=True)
class IdentifierSql:
    """SQL expressions over one source identifier column (already quoted)."""

    digest: str  # 32-byte BLOB, or NULL for blank and for invalid values
    blank: str  # TRUE where the value is NULL, empty or whitespace only
    email_like: str  # TRUE where a non-digest value looks like an email address
    phone_like: str  # TRUE where a non-digest value looks like a phone number
    not_digest: str  # TRUE where a non-blank value is not a digest (includes the two above)


def identifier_sql(column_sql: str, source_type: str) -> IdentifierSql:
    """Digest and classification expressions for an identifier of DuckDB type ``source_type``.

    >>> sql = identifier_sql('"email_sha256"', "VARCHAR")
    >>> "unhex" in sql.digest and "from_base64" in sql.digest
    True
    """
    base = source_type.split("(")[0].upper()
    if base in _BLOB_TYPES:
        # Parquet FIXED_LEN_BYTE_ARRAY(32) / BINARY digests: already the bytes.
        empty = f"({column_sql} IS NULL OR octet_length({column_sql}) = 0)"
        digest = f"CASE WHEN octet_length({column_sql}) = 32 THEN {column_sql} END"
        return IdentifierSql(
            digest=digest,
            blank=empty,
            email_like="FALSE",
            phone_like="FALSE",
            not_digest=f"(NOT {empty} AND ({digest}) IS NULL)",
        )
    v = column_sql if base == "VARCHAR" else f"CAST({column_sql} AS VARCHAR)"
    t = stripped(v)
    # Fast path: 64 characters, no surrounding whitespace, unhex (try() is NULL on a non-hex
    # character). CASE (unlike coalesce) evaluates the slow branch only on the rows that need it:
    # stripping whitespace, and base64 gated by a pattern so that from_base64 sees 43 alphabet
    # characters and one '=' (exactly 32 bytes).
    slow = (
        f"CASE length({t}) "
        f"WHEN 64 THEN try(unhex({t})) "
        f"WHEN 44 THEN CASE WHEN regexp_full_match({t}, '[A-Za-z0-9+/_-]{{43}}=') "
        f"THEN from_base64(translate({t}, '-_', '+/')) END END"
    )
    digest = (
        f"CASE WHEN length({v}) = 64 AND ascii({v}) > 32 AND ascii(right({v}, 1)) > 32 "
        f"THEN try(unhex({v})) ELSE {slow} END"
    )
    is_blank = blank(v)
    not_digest = f"(NOT {is_blank} AND ({digest}) IS NULL)"
    digits = f"length(regexp_replace({v}, '[^0-9]', '', 'g'))"
    email_like = f"({not_digest} AND contains({v}, '@'))"
    phone_like = (
        f"({not_digest} AND NOT contains({v}, '@') "
        f"AND regexp_full_match({v}, '\\s*[+]?[0-9 ().-]+\\s*') AND {digits} BETWEEN 7 AND 15)"
    )
    return IdentifierSql(digest, is_blank, email_like, phone_like, not_digest)


def pid_sql(digest_sql: str, ipad_param: str, opad_param: str) -> str:
    """HMAC-SHA256 of a 32-byte digest blob, keyed through the padded-key query parameters.

    ``sha256()`` returns hex text, hence the ``unhex``; the result is a 32-byte BLOB.
    """
    inner = f"unhex(sha256({ipad_param}::BLOB || {digest_sql}))"
    return f"unhex(sha256({opad_param}::BLOB || {inner}))"


def identifier_problem(column: str, kind: str, row: int, *, what: str = "row") -> DatasetInvalid:
    """The error for the first bad identifier; never quotes the value."""
    where = f"first at {what} {row}"
    if kind == "email":
        return DatasetInvalid(
            f"column '{column}' holds values that look like raw email addresses ({where}); "
            "hash them with `cleanroom hash` before uploading",
            column=column,
            row=row,
        )
    if kind == "phone":
        return DatasetInvalid(
            f"column '{column}' holds values that look like raw phone numbers ({where}); "
            "hash them with `cleanroom hash --kind phone` before uploading",
            column=column,
            row=row,
        )
    return DatasetInvalid(
        f"column '{column}' holds a value that is not a SHA-256 digest ({where}); identifiers "
        "must be 64 hexadecimal or 44 base64 characters",
        column=column,
        row=row,
    )
