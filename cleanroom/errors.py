"""The one exception hierarchy of cleanroom.

Every error a client can see is a :class:`CleanroomError` with an HTTP ``status`` and a stable
``code`` (docs/api.md). ``web`` maps them to RFC 9457 problem documents in exactly one place;
``cli`` prints ``code: detail``. Messages are written for a person to act on and never quote data
values, SQL or engine messages.

>>> err = BudgetExhausted(requested={"epsilon": 1.0}, remaining={"epsilon": 0.5})
>>> (err.status, err.code)
(409, 'budget_exhausted')
>>> err.extra()["remaining"]
{'epsilon': 0.5}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from cleanroom.budget import refusal


@dataclass(frozen=True)
class Violation:
    """One reason a template was rejected, with where it happened (1-based line and column)."""

    code: str
    message: str
    line: int = 0
    column: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "line": self.line,
            "column": self.column,
        }


class CleanroomError(Exception):
    """Base class. Subclasses set ``status``, ``code`` and ``title``."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "invalid_request"
    title: ClassVar[str] = "Invalid request"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.title
        super().__init__(self.detail)

    def extra(self) -> dict[str, Any]:
        """Additional members of the problem document (beyond type/title/status/detail/code)."""
        return {}


class InvalidRequest(CleanroomError):
    status, code, title = 400, "invalid_request", "Invalid request"


class InvalidParameter(CleanroomError):
    """A run's parameter values do not fit the template's declared parameters (the template
    itself is fine)."""

    status, code, title = 400, "invalid_parameter", "Invalid parameter"

    def __init__(self, problems: list[str], detail: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__(detail or "; ".join(self.problems))

    def extra(self) -> dict[str, Any]:
        return {"problems": self.problems}


class InvalidToken(CleanroomError):
    status, code, title = 401, "invalid_token", "Invalid or missing token"


class Forbidden(CleanroomError):
    status, code, title = 403, "forbidden", "Not allowed"


class RoleNotMapped(CleanroomError):
    """A verified token whose role claim names no role here (or several): the identity
    provider's groups need an entry in ``jwt_role_map``."""

    status, code, title = 403, "role_not_mapped", "No role for this identity"


class IdentityProviderUnavailable(CleanroomError):
    """The identity provider's keys could not be fetched, so no token can be checked now."""

    status, code, title = 503, "identity_provider_unavailable", "Identity provider unavailable"


class NotFound(CleanroomError):
    status, code, title = 404, "not_found", "Not found"


class MethodNotAllowed(CleanroomError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class Conflict(CleanroomError):
    status, code, title = 409, "conflict", "Conflict"


class TemplateNotApproved(CleanroomError):
    status, code, title = 409, "template_not_approved", "Template is not approved"


class CollaborationClosed(CleanroomError):
    """The collaboration has not started yet or has ended: no runs (and, after the end, no new
    datasets or templates)."""

    status, code, title = 409, "collaboration_closed", "Collaboration is not open"


class MembershipEnded(CleanroomError):
    """The caller's org was a partner of the collaboration; its membership ended."""

    status, code, title = 403, "membership_ended", "Membership has ended"


class PolicyLoosening(CleanroomError):
    """An amendment would loosen the policy and was sent without ``allow_loosening: true``."""

    status, code, title = 409, "policy_loosening", "Change loosens the policy"

    def __init__(self, fields: list[str], detail: str | None = None) -> None:
        self.fields = list(fields)
        super().__init__(
            detail
            or (
                f"this change loosens {', '.join(self.fields)}, which weakens the guarantee "
                "already given to the people in the data; send it again with "
                '"allow_loosening": true to confirm (it is recorded as a loosening)'
            )
        )

    def extra(self) -> dict[str, Any]:
        return {"loosening": self.fields}


class ReportNotReady(CleanroomError):
    status, code, title = 409, "conflict", "Report not ready"


class BudgetExhausted(CleanroomError):
    status, code, title = 409, "budget_exhausted", "Privacy budget exhausted"

    def __init__(
        self,
        requested: dict[str, float],
        remaining: dict[str, float],
        detail: str | None = None,
    ) -> None:
        self.requested = dict(requested)
        self.remaining = dict(remaining)
        super().__init__(detail or refusal(requested, remaining))

    def extra(self) -> dict[str, Any]:
        return {"requested": self.requested, "remaining": self.remaining}


class PayloadTooLarge(CleanroomError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(CleanroomError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


@dataclass(frozen=True)
class DatasetProblem:
    """One thing wrong with an upload or its spec: the column and (1-based, header excluded)
    row it is at when it has them; never a value of the file."""

    message: str
    column: str | None = None
    row: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "column": self.column, "row": self.row}


class DatasetInvalid(CleanroomError):
    """The file or its spec does not match the declaration. ``problems`` locates each one by
    column and row where it can (the problem document's ``errors``); ``detail`` joins them.

    >>> err = DatasetInvalid("column 'sales': bad value at row 3", column="sales", row=3)
    >>> err.extra()
    {'errors': [{'message': "column 'sales': bad value at row 3", 'column': 'sales', 'row': 3}]}
    """

    status, code, title = 422, "dataset_invalid", "Dataset is invalid"

    def __init__(
        self,
        detail: str | None = None,
        *,
        column: str | None = None,
        row: int | None = None,
        problems: list[DatasetProblem] | None = None,
    ) -> None:
        if problems is None:
            problems = [DatasetProblem(detail or self.title, column, row)]
        self.problems = list(problems)
        super().__init__(detail or "; ".join(p.message for p in self.problems))

    def extra(self) -> dict[str, Any]:
        return {"errors": [p.to_dict() for p in self.problems]}


class DatasetExpired(CleanroomError):
    status, code, title = 410, "dataset_expired", "Dataset has expired"


class TemplateRejected(CleanroomError):
    status, code, title = 422, "template_rejected", "Template rejected"

    def __init__(self, violations: list[Violation], detail: str | None = None) -> None:
        self.violations = list(violations)
        n = len(self.violations)
        super().__init__(detail or f"the template breaks {n} rule{'s' if n != 1 else ''}")

    def extra(self) -> dict[str, Any]:
        return {"errors": [v.to_dict() for v in self.violations]}


class TooManyRequests(CleanroomError):
    """A rate limit was hit; ``retry_after`` says in how many seconds a retry can succeed."""

    status, code, title = 429, "too_many_requests", "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(detail or f"too many requests; retry in {self.retry_after} s")


class ServiceUnavailable(CleanroomError):
    """An outage (the store, the data volume) or not ready yet: nothing is wrong with the
    request, and a retry after ``retry_after`` seconds may succeed."""

    status, code, title = 503, "service_unavailable", "Service unavailable"
    retry_after: int = 30
    reason: str = ""  # for the server log (and local commands), never for a client


class StoreUnavailable(ServiceUnavailable):
    """The metadata store cannot be reached, dropped the connection or stayed locked beyond
    its busy timeout. ``reason`` (the driver's first line, e.g. "connection refused" or
    "password authentication failed") is for the server log and local commands, never a client.
    """

    def __init__(self, detail: str | None = None, reason: str = "") -> None:
        self.reason = reason
        super().__init__(detail or "the metadata store is not available right now; retry later")


class ConfigError(CleanroomError):
    status, code, title = 500, "config_error", "Configuration error"


class ExecutionFailed(CleanroomError):
    """The engine failed. The engine's own message never goes into ``detail``."""

    status, code, title = 500, "execution_failed", "Query execution failed"


class InternalError(CleanroomError):
    status, code, title = 500, "internal_error", "Internal error"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "an internal invariant failed; this is a bug")
