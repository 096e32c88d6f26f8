"""What a failed API call raises: the server's problem document as an exception.

>>> err = ApiError(409, "budget_exhausted", "only epsilon=0.5 remains", {})
>>> str(err)
'budget_exhausted: only epsilon=0.5 remains'
>>> rejected = ApiError(422, "template_rejected", "the template breaks 1 rule",
...     {"errors": [{"code": "raw_pid", "message": "pid may not be selected", "line": 3,
...                  "column": 8}]})
>>> print(rejected)
template_rejected: the template breaks 1 rule
  raw_pid 3:8 pid may not be selected
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApiError(Exception):
    """A non-2xx answer (``status``, ``code``, ``detail`` and the whole problem ``body``), or a
    server that could not be reached (``status`` 0, ``code`` ``unreachable``)."""

    def __init__(self, status: int, code: str, detail: str, body: Mapping[str, Any]) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.body = dict(body)
        super().__init__(self._message())

    @property
    def violations(self) -> list[dict[str, Any]]:
        """The template violations of a ``template_rejected`` answer (else empty)."""
        errors = self.body.get("errors")
        return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []

    def _message(self) -> str:
        lines = [f"{self.code}: {self.detail}"]
        for v in self.violations:
            lines.append(
                f"  {v.get('code')} {v.get('line', 0)}:{v.get('column', 0)} {v.get('message')}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._message()


class RunWaitTimeout(Exception):
    """``wait_for_run`` gave up before the run finished (the run itself goes on)."""

    def __init__(self, run_id: str, seconds: float) -> None:
        self.run_id = run_id
        self.seconds = seconds
        super().__init__(f"run {run_id} did not finish within {seconds:g} s; it is still running")
