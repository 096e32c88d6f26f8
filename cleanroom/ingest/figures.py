"""Exact governance figures of one stored dataset file: consent and suppression counts.

Read from the Parquet file ingestion wrote (only the ``pid`` column and the consent columns asked
for), never from user SQL. These are exact facts about the people in the data: the service layer
(``services.kpis``) shows them to the dataset's owner org only (``cleanroom.visibility``).

>>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
>>> from pathlib import Path
>>> pids = [bytes([i]) * 32 for i in (1, 1, 2, 3)]
>>> table = pa.table({"pid": pa.array(pids, pa.binary(32)),
...                   "consent_measurement": [True, False, None, True]})
>>> path = Path(tempfile.mkdtemp()) / "d.parquet"
>>> pq.write_table(table, path)
>>> found = dataset_figures(path, ["consent_measurement"], [bytes([3]) * 32])
>>> found.rows, found.people, found.suppressed_people, found.suppressed_rows
(4, 3, 1, 1)
>>> c = found.consent["consent_measurement"]
>>> c.rows_opted_in, c.people_opted_in, c.rows_removed
(2, 2, 2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cleanroom.types import PID


@dataclass(frozen=True)
class ConsentFigures:
    """One consent column: rows and people whose flag is true (NULL counts as no consent)."""

    rows_opted_in: int
    people_opted_in: int  # people with at least one consented row (those a run can use)
    rows_removed: int  # rows a run of this column's purpose leaves out (flag not true)


@dataclass(frozen=True)
class DatasetFigures:
    rows: int
    people: int
    consent: Mapping[str, ConsentFigures]  # consent column name -> figures
    suppressed_people: int  # people of the dataset on the suppression list
    suppressed_rows: int  # their rows: what every run leaves out for suppression


def _distinct(pids: pa.ChunkedArray[Any]) -> int:
    return int(pc.count_distinct(pids).as_py() or 0)


def dataset_figures(
    path: Path, consent_columns: Sequence[str], suppressed: Sequence[bytes]
) -> DatasetFigures:
    """Counts over one personal dataset file (a file or a directory of Parquet parts)."""
    table = pq.read_table(path, columns=[PID, *consent_columns])
    pids = table.column(PID)
    consent = {}
    for name in consent_columns:
        flag = pc.equal(table.column(name), pa.scalar(True))  # NULL stays NULL: dropped
        kept = pids.filter(flag, null_selection_behavior="drop")
        consent[name] = ConsentFigures(
            rows_opted_in=len(kept),
            people_opted_in=_distinct(kept),
            rows_removed=table.num_rows - len(kept),
        )
    listed = pc.is_in(pids, value_set=pa.array(list(suppressed), pa.binary(32)))
    on_list = pids.filter(listed)
    return DatasetFigures(
        rows=table.num_rows,
        people=_distinct(pids),
        consent=consent,
        suppressed_people=_distinct(on_list),
        suppressed_rows=len(on_list),
    )
