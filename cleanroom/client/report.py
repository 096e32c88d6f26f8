"""``Report``: a run's report document (docs/specs.md, Report) with conveniences for analysts.

>>> report = Report({"columns": ["brand", "buyers"], "rows": [{"brand": "a", "buyers": 120}],
...                  "accuracy": {"half_widths": {"buyers": 9.5},
...                               "row_intervals": [{"buyers": [110.5, 129.5]}]}})
>>> report.fields
['brand', 'buyers', 'buyers_lo', 'buyers_hi']
>>> report.records()[0]["buyers_hi"]
129.5
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cleanroom.report_rows import flat_rows

if TYPE_CHECKING:  # pandas is optional (pip install 'cleanroom[client]') and imported lazily
    import pandas


@dataclass(frozen=True)
class Report:
    """The report document as the server returned it (``document``), plus its rows in the
    layout of the CSV download: the report's columns, then ``<column>_lo`` and
    ``<column>_hi`` (the 95% interval) for each non-key column."""

    document: Mapping[str, Any]

    @property
    def columns(self) -> list[str]:
        """The report's own columns (keys and released values), in order."""
        return list(self.document.get("columns") or [])

    @property
    def fields(self) -> list[str]:
        """The columns, then the interval ends."""
        return flat_rows(dict(self.document))[0]

    def records(self) -> list[dict[str, Any]]:
        """One dict per released row, interval ends included (None where a cell has none)."""
        return flat_rows(dict(self.document))[1]

    def to_pandas(self) -> pandas.DataFrame:
        """The rows as a :class:`pandas.DataFrame` with the interval columns; needs pandas."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "Report.to_pandas() needs pandas: pip install 'cleanroom[client]'"
            ) from None
        fields, rows = flat_rows(dict(self.document))
        return pd.DataFrame.from_records(rows, columns=fields)
