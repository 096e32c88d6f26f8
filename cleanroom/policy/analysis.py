"""The result of validating a template (what the submission API returns and stores).

>>> Analysis(outputs=("n",), group_keys=(), aggregates=(), datasets=("t",), pin="p",
...          purpose="measurement").to_dict()["outputs"]
['n']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cleanroom.plan import ReleasePlan


@dataclass(frozen=True)
class Analysis:
    outputs: tuple[str, ...]
    group_keys: tuple[dict[str, Any], ...]
    aggregates: tuple[dict[str, Any], ...]
    datasets: tuple[str, ...]
    pin: str
    purpose: str
    plan: ReleasePlan | None = None
    consent: str | None = None  # a consent analysis's dataset (``-- consent:``)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outputs": list(self.outputs),
            "group_keys": [dict(k) for k in self.group_keys],
            "aggregates": [dict(a) for a in self.aggregates],
            "datasets": list(self.datasets),
            "pin": self.pin,
            "purpose": self.purpose,
            **({"consent": self.consent} if self.consent is not None else {}),
        }
