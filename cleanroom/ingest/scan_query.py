"""The one SQL query an ingestion streams: typed columns, re-keyed identifier, row flags.

Re-keying is ``pid = HMAC-SHA256(K_collab, digest)`` written in SQL as two ``sha256()`` calls
(``identifiers.pid_sql``). That per-row HMAC was most of an ingestion's time, and personal data
has many rows per person (10-100 exposures or purchases), so the HMAC is computed once per
*distinct* digest and hash-joined back onto the rows::

    WITH s AS (typed values, presence flags, digest: one scan of src),
         k AS (SELECT digest, count(*) AS n, HMAC(digest) FROM ... GROUP BY digest)
    SELECT k.pid, values..., bad-row flag, k.n FROM s LEFT JOIN k ON s.digest = k.digest

The same GROUP BY gives each person's row count, so the largest (``max_rows_per_person``) is
exact and free. Blank and invalid identifiers have a NULL digest, find no key and come out with
a NULL pid: blanks are dropped and counted as before, invalid ones raise the bad-row flag.

Why always distinct, not chosen per file: measured on 1e6 rows (CPU seconds of the whole
ingestion, 2 cores), with ten rows per person the distinct form costs 1.25-1.95 s against
2.1-2.45 s per row (-17% CSV, -40% Parquet); with about one row per person (Poisson, 63%
distinct) it is even to +8%; in the worst case, every row a different person, +20%.
Reporting ``max_rows_per_person`` exactly needs that GROUP BY in every mode, and a per-row mode
would pay it on top of the per-row HMAC. Nor can a cheap sample tell the modes apart: a prefix
of 1e5 rows out of 1e7 over 1e6 people looks all-distinct.

Two shapes of ``k`` (``materialize``): from the materialized ``s`` (one scan of the source; the
validated rows are held in memory until the keys are known, about 200 bytes per row), or from
a second, identifier-only scan of ``src`` (``s`` then streams; memory is the key table only,
at the cost of reading the identifier column twice). The caller picks by the row count.
Measured CPU per row at 1e7 rows, ten rows per person, whole ingestion: per-row HMAC 1.96 us
(Parquet) / 2.35 us (CSV); materialized 1.42 / 1.89; second scan 1.77 / 2.39 (the CSV is
parsed again, which eats the gain): the second scan is a memory bound, not a speed-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from cleanroom.ingest.columns import ColumnPlan
from cleanroom.ingest.identifiers import IdentifierSql, pid_sql, quote
from cleanroom.ingest.keys import PID_BYTES, hmac_pads
from cleanroom.names import PID

PID_TYPE = pa.binary(PID_BYTES)
ROWS_COLUMN = "cr_rows"  # result column: rows of this row's person (NULL without a pid)


@dataclass(frozen=True)
class ScanQuery:
    """The SQL, its parameters, and how to read its result columns."""

    sql: str
    params: list[object]
    stored: int  # leading result columns that are stored; cr_bad follows
    personal: bool

    @staticmethod
    def build(
        identifier: tuple[str, IdentifierSql] | None,
        plans: list[ColumnPlan],
        key: bytes | None,
        *,
        materialize: bool = True,
    ) -> ScanQuery:
        """The query over the view ``src``; keyed (personal) when ``identifier`` and ``key``."""
        inner: list[str] = []
        outer: list[str] = []
        bad: list[str] = []
        params: list[object] = []
        personal = identifier is not None and key is not None
        if identifier is not None and key is not None:
            inner += [f"{identifier[1].digest} AS cr_digest", f"{identifier[1].blank} AS cr_blank"]
            outer.append(f"cr_k.cr_pid AS {PID}")
            bad.append("(NOT cr_blank AND cr_digest IS NULL)")
            params = list(hmac_pads(key))
        for i, plan in enumerate(plans):
            inner += [f"{plan.value_sql} AS cr_v{i}", f"{plan.present_sql} AS cr_p{i}"]
            outer.append(f"cr_v{i} AS {quote(plan.name)}")
            bad.append(plan.bad_sql(f"cr_v{i}", f"cr_p{i}"))
        stored = len(outer)
        outer.append(f"coalesce({' OR '.join(bad) or 'FALSE'}, FALSE) AS cr_bad")
        scan = f"SELECT {', '.join(inner)} FROM src"
        if identifier is None or key is None:
            sql = f"SELECT {', '.join(outer)} FROM ({scan})"
        else:
            outer.append(f"cr_k.cr_n AS {ROWS_COLUMN}")
            digests = (
                "SELECT cr_digest FROM cr_s"
                if materialize
                else f"SELECT {identifier[1].digest} AS cr_digest FROM src"
            )
            sql = (
                f"WITH cr_s AS {'MATERIALIZED' if materialize else 'NOT MATERIALIZED'} ({scan}), "
                f"cr_k AS (SELECT cr_digest AS cr_d, count(*) AS cr_n, "
                f"{pid_sql('cr_digest', '$1', '$2')} AS cr_pid FROM ({digests}) "
                "WHERE cr_digest IS NOT NULL GROUP BY cr_digest) "
                f"SELECT {', '.join(outer)} FROM cr_s LEFT JOIN cr_k ON cr_s.cr_digest = cr_k.cr_d"
            )
        return ScanQuery(sql, params, stored, personal)


def fixed_pids(pids: pa.Array[Any]) -> pa.Array[Any]:
    """The BLOB pids as fixed_size_binary(32): reuses the value buffer (no copy) when it is
    exactly the pids back to back, which it is once blanks are filtered out."""
    if isinstance(pids, pa.BinaryArray) and pids.null_count == 0 and len(pids) > 0:
        _, offsets_buffer, data = pids.buffers()
        assert offsets_buffer is not None
        assert data is not None
        offsets = pa.Array.from_buffers(
            pa.int32(), len(pids) + 1, [None, offsets_buffer], offset=pids.offset
        )
        start, end = offsets[0].as_py(), offsets[-1].as_py()
        # Every pid is a whole SHA-256 output, so the total length is 32 bytes each exactly
        # when each one is 32 bytes; anything else takes the validating cast.
        if end - start == PID_BYTES * len(pids):
            return pa.FixedSizeBinaryArray.from_buffers(
                PID_TYPE, len(pids), [None, data.slice(start, end - start)]
            )
    return pids.cast(PID_TYPE)
