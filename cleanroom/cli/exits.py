"""Exit statuses of every command, one per kind of outcome, so that scripts can branch on them
(docs/cli.md, Exit statuses).

>>> exit_status(404, "not_found"), exit_status(409, "budget_exhausted")
(3, 4)
>>> exit_status(400, "invalid_parameter"), exit_status(0, "unreachable"), exit_status(503, "x")
(5, 6, 6)
"""

from __future__ import annotations

OK = 0
FAILED = 1  # the command worked, the answer is "no": a run failed, a template or chain is bad
USAGE = 2  # the command line or a file it names is wrong (click's own status for usage errors)
NOT_FOUND = 3  # no such collaboration, dataset, template or run (or not visible to you)
REFUSED = 4  # the server understood and refused: token, permission, budget, policy, state
BAD_PARAMETER = 5  # a run parameter's value does not fit the template's declaration
SERVER = 6  # the server failed or could not be reached
TIMEOUT = 7  # --wait gave up; the run goes on

STATUSES: dict[int, str] = {
    OK: "success",
    FAILED: "the operation completed with a negative outcome (a failed run, a rejected template "
    "in validate, a broken audit chain)",
    USAGE: "usage error: a bad option or argument, an unreadable input file",
    NOT_FOUND: "not found: the collaboration, dataset, template or run does not exist or is not "
    "visible to you (HTTP 404, 410)",
    REFUSED: "refused by the server: invalid token, forbidden, budget exhausted, policy or state "
    "conflicts, invalid input (HTTP 400, 401, 403, 409, 413, 415, 422)",
    BAD_PARAMETER: "bad parameter: a run parameter value the template does not accept "
    "(`invalid_parameter`)",
    SERVER: "server error: HTTP 5xx, an unreachable server or an answer that is not the API's",
    TIMEOUT: "`run --wait` timed out (the run itself goes on)",
}


def exit_status(status: int, code: str) -> int:
    """The exit status for an API failure of HTTP ``status`` (0: no answer) and ``code``."""
    if code == "invalid_parameter":
        return BAD_PARAMETER
    if status in (404, 410):
        return NOT_FOUND
    if status == 0 or status >= 500 or code == "invalid_response":
        return SERVER
    return REFUSED
