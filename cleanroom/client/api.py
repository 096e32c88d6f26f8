"""``ApiClient``: one typed method per route of the cleanroom HTTP API (docs/api.md).

Answers are the server's JSON documents (``dict``), lists are followed across pages, and every
non-2xx answer raises :class:`ApiError` carrying the problem document's ``code`` and ``detail``.

>>> client = ApiClient("http://127.0.0.1:8000/", token="t")
>>> client.url("/v1/collaborations")
'http://127.0.0.1:8000/v1/collaborations'
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import requests

from cleanroom.client.errors import ApiError, RunWaitTimeout
from cleanroom.client.report import Report

ReportFormat = Literal["json", "csv", "parquet"]
REPORT_FORMATS: tuple[ReportFormat, ...] = ("json", "csv", "parquet")
FINISHED = ("succeeded", "failed")
MAX_PAGES = 10_000  # a server that never stops paging is a bug; do not loop for ever
ProgressCallback = Callable[[dict[str, Any]], None]


class Keep(Enum):
    """``KEEP``: leave a value as it is (``None`` means "no value")."""

    KEEP = "keep"


KEEP = Keep.KEEP


def _seg(value: str) -> str:
    """One path segment, escaped: ids come from users and must not change the route."""
    return quote(str(value), safe="")


class ApiClient:
    """A client of one cleanroom server, acting with one bearer token.

    ``timeout`` bounds each HTTP request (seconds); uploads and downloads get four times as long.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session = session or requests.Session()

    def with_token(self, token: str) -> ApiClient:
        """The same server and connection pool, acting as another principal."""
        return ApiClient(self.base_url, token, self.timeout, self.session)

    def url(self, path: str) -> str:
        return self.base_url + path

    def close(self) -> None:
        self.session.close()

    # -- transport ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        """Send one request; a non-2xx answer raises :class:`ApiError`."""
        sent = {"Accept": "application/json, application/problem+json, */*"}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        sent.update(headers or {})
        try:
            response = self.session.request(
                method,
                self.url(path),
                json=json_body,
                params=params,
                files=files,
                data=data,
                headers=sent,
                timeout=timeout or self.timeout,
            )
        except requests.RequestException as exc:
            raise ApiError(
                0, "unreachable", f"cannot reach {self.base_url} ({type(exc).__name__})", {}
            ) from None
        if response.status_code >= 400:
            raise _api_error(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code, "invalid_response", "the server's answer is not JSON", {}
            ) from None

    def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body = self._json(method, path, **kwargs)
        if not isinstance(body, dict):
            raise ApiError(200, "invalid_response", "the server's answer is not an object", {})
        return body

    def _all(self, path: str) -> list[dict[str, Any]]:
        """Every item of a list route (``{"items": [...]}``, the one shape of every list
        response), following ``next_cursor`` pages."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {}
        for _ in range(MAX_PAGES):
            body = self._json("GET", path, params=params or None)
            page = body.get("items") if isinstance(body, dict) else None
            if not isinstance(page, list):
                raise ApiError(200, "invalid_response", "the server's answer has no items", {})
            items.extend(page)
            cursor = body.get("next_cursor")
            if not cursor:
                return items
            params = {"cursor": cursor}
        raise ApiError(200, "invalid_response", "the server kept returning pages", {})

    # -- meta --------------------------------------------------------------------------------

    def healthz(self) -> dict[str, Any]:
        """``GET /healthz``: liveness (no token needed)."""
        return self._object("GET", "/healthz")

    def readyz(self) -> dict[str, Any]:
        """``GET /readyz``: store and engine reachable (``ApiError`` 503 when not)."""
        return self._object("GET", "/readyz")

    def whoami(self) -> dict[str, Any]:
        """``GET /v1/whoami``: the principal this client's token speaks for."""
        return self._object("GET", "/v1/whoami")

    # -- collaborations ----------------------------------------------------------------------

    def create_collaboration(
        self, name: str, partner_orgs: Sequence[str], policy: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A retailer admin opens a collaboration with ``partner_orgs`` under ``policy``."""
        body: dict[str, Any] = {"name": name, "partner_orgs": list(partner_orgs)}
        if policy is not None:
            body["policy"] = dict(policy)
        return self._object("POST", "/v1/collaborations", json_body=body)

    def list_collaborations(self) -> list[dict[str, Any]]:
        return self._all("/v1/collaborations")

    def get_collaboration(self, collaboration_id: str) -> dict[str, Any]:
        return self._object("GET", f"/v1/collaborations/{_seg(collaboration_id)}")

    def _collab(self, collaboration_id: str, rest: str = "") -> str:
        return f"/v1/collaborations/{_seg(collaboration_id)}{rest}"

    def update_collaboration(
        self,
        collaboration_id: str,
        *,
        policy: Mapping[str, Any] | None = None,
        starts_at: str | Keep | None = KEEP,
        ends_at: str | Keep | None = KEEP,
        allow_loosening: bool = False,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Amend policy fields and dates (retailer admin): ``{"collaboration", "changes",
        "loosening", "warnings"}``. A date is an ISO-8601 timestamp, ``"now"`` or None (no
        date); ``KEEP`` leaves it. Loosening needs ``allow_loosening`` (else ``ApiError``
        ``policy_loosening``)."""
        body: dict[str, Any] = {}
        if policy:
            body["policy"] = dict(policy)
        for key, value in (("starts_at", starts_at), ("ends_at", ends_at)):
            if not isinstance(value, Keep):
                body[key] = value
        if allow_loosening:
            body["allow_loosening"] = True
        if reason is not None:
            body["reason"] = reason
        return self._object("PATCH", self._collab(collaboration_id), json_body=body)

    def add_partner(
        self,
        collaboration_id: str,
        org: str,
        *,
        budget: Mapping[str, float] | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Add a partner org (retailer admin), with ``budget`` totals of its own if given:
        ``{"collaboration", "budget"}``."""
        body: dict[str, Any] = {"org": org}
        if budget is not None:
            body["budget"] = dict(budget)
        if reason is not None:
            body["reason"] = reason
        return self._object("POST", self._collab(collaboration_id, "/partners"), json_body=body)

    def remove_partner(
        self,
        collaboration_id: str,
        org: str,
        *,
        purge_data: bool = False,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """End a partner's membership (retailer admin), purging its datasets with
        ``purge_data``: ``{"collaboration", "membership", "purged_datasets"}``."""
        body: dict[str, Any] = {"purge_data": purge_data}
        if reason is not None:
            body["reason"] = reason
        path = self._collab(collaboration_id, f"/partners/{_seg(org)}/end")
        return self._object("POST", path, json_body=body)

    # -- datasets and suppressions -----------------------------------------------------------

    def register_dataset(
        self, collaboration_id: str, file: Path | str, spec: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Upload ``file`` (CSV or Parquet) as the next version of the dataset ``spec`` names."""
        path = Path(file)
        media = "application/vnd.apache.parquet" if path.suffix == ".parquet" else "text/csv"
        with path.open("rb") as handle:
            return self._object(
                "POST",
                self._collab(collaboration_id, "/datasets"),
                files={"file": (path.name, handle, media)},
                data={"spec": json.dumps(dict(spec))},
                timeout=self.timeout * 4,
            )

    def list_datasets(self, collaboration_id: str) -> list[dict[str, Any]]:
        return self._all(self._collab(collaboration_id, "/datasets"))

    def get_dataset(self, collaboration_id: str, dataset_id: str) -> dict[str, Any]:
        return self._object("GET", self._collab(collaboration_id, f"/datasets/{_seg(dataset_id)}"))

    def delete_dataset(self, collaboration_id: str, dataset_id: str) -> None:
        """The owner purges every version of a dataset."""
        self.request("DELETE", self._collab(collaboration_id, f"/datasets/{_seg(dataset_id)}"))

    def add_suppressions(
        self,
        collaboration_id: str,
        *,
        file: Path | str | None = None,
        identifiers: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Add hashed opted-out identifiers, from a CSV ``file`` or an ``identifiers`` list."""
        return self._suppressions(collaboration_id, "", file, identifiers)

    def remove_suppressions(
        self,
        collaboration_id: str,
        *,
        file: Path | str | None = None,
        identifiers: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Take hashed identifiers off the suppression list: ``{"removed": n}``."""
        return self._suppressions(collaboration_id, "/remove", file, identifiers)

    def count_suppressions(self, collaboration_id: str) -> dict[str, Any]:
        """``{"count": n}``: the size of the suppression list (retailer admin)."""
        return self._object("GET", self._collab(collaboration_id, "/suppressions"))

    def _suppressions(
        self,
        collaboration_id: str,
        rest: str,
        file: Path | str | None,
        identifiers: Sequence[str] | None,
    ) -> dict[str, Any]:
        path = self._collab(collaboration_id, "/suppressions" + rest)
        if (file is None) == (identifiers is None):
            raise ValueError("give either file or identifiers")
        if identifiers is not None:
            return self._object("POST", path, json_body={"identifiers": list(identifiers)})
        upload = Path(str(file))
        with upload.open("rb") as handle:
            return self._object(
                "POST",
                path,
                files={"file": (upload.name, handle, "text/csv")},
                timeout=self.timeout * 4,
            )

    # -- templates ---------------------------------------------------------------------------

    def submit_template(
        self,
        collaboration_id: str,
        sql: str,
        *,
        name: str | None = None,
        parameters: Sequence[Mapping[str, Any]] | None = None,
        purpose: str | None = None,
    ) -> dict[str, Any]:
        """Submit a template (a file's ``-- key: value`` header is authoritative); it is
        ``pending`` until approved, or ``ApiError`` ``template_rejected`` with violations."""
        body: dict[str, Any] = {"sql": sql}
        if name is not None:
            body["name"] = name
        if parameters is not None:
            body["parameters"] = [dict(p) for p in parameters]
        if purpose is not None:
            body["purpose"] = purpose
        return self._object("POST", self._collab(collaboration_id, "/templates"), json_body=body)

    def list_templates(self, collaboration_id: str) -> list[dict[str, Any]]:
        return self._all(self._collab(collaboration_id, "/templates"))

    def get_template(self, collaboration_id: str, template_id: str) -> dict[str, Any]:
        return self._object(
            "GET", self._collab(collaboration_id, f"/templates/{_seg(template_id)}")
        )

    def decide_template(
        self,
        collaboration_id: str,
        template_id: str,
        decision: Literal["approve", "reject", "revoke"],
        reason: str | None = None,
    ) -> dict[str, Any]:
        """The retailer admin's ``approve``, ``reject`` or ``revoke`` of one template version."""
        body = {} if reason is None else {"reason": reason}
        path = self._collab(collaboration_id, f"/templates/{_seg(template_id)}/{decision}")
        return self._object("POST", path, json_body=body)

    def approve_template(
        self, collaboration_id: str, template_id: str, reason: str | None = None
    ) -> dict[str, Any]:
        return self.decide_template(collaboration_id, template_id, "approve", reason)

    def reject_template(
        self, collaboration_id: str, template_id: str, reason: str | None = None
    ) -> dict[str, Any]:
        return self.decide_template(collaboration_id, template_id, "reject", reason)

    def revoke_template(
        self, collaboration_id: str, template_id: str, reason: str | None = None
    ) -> dict[str, Any]:
        return self.decide_template(collaboration_id, template_id, "revoke", reason)

    # -- runs and reports --------------------------------------------------------------------

    @staticmethod
    def run_body(
        template_id: str,
        parameters: Mapping[str, Any] | None,
        epsilon: float,
        delta: float | None,
        weights: Mapping[str, float] | None = None,
    ) -> dict[str, Any]:
        loss: dict[str, float] = {"epsilon": epsilon}
        if delta is not None:
            loss["delta"] = delta
        return {
            "template_id": template_id,
            "parameters": dict(parameters or {}),
            "privacy_loss": loss,
            **({"weights": dict(weights)} if weights else {}),
        }

    def preview_run(
        self,
        collaboration_id: str,
        template_id: str,
        parameters: Mapping[str, Any] | None = None,
        epsilon: float = 1.0,
        delta: float | None = None,
        weights: Mapping[str, float] | None = None,
        targets: Mapping[str, float] | None = None,
    ) -> dict[str, Any]:
        """Cost split, expected 95% half-widths and remaining budget; charges nothing. With
        ``targets`` (a half-width per output), its ``target`` is the smallest epsilon that
        meets them."""
        body = self.run_body(template_id, parameters, epsilon, delta, weights)
        if targets:
            body["targets"] = dict(targets)
        return self._object("POST", self._collab(collaboration_id, "/runs/preview"), json_body=body)

    def create_run(
        self,
        collaboration_id: str,
        template_id: str,
        parameters: Mapping[str, Any] | None = None,
        epsilon: float = 1.0,
        delta: float | None = None,
        idempotency_key: str | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> dict[str, Any]:
        """Queue a run (its privacy loss is charged now); the same ``idempotency_key`` returns
        the first run instead of starting another."""
        body = self.run_body(template_id, parameters, epsilon, delta, weights)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._object(
            "POST", self._collab(collaboration_id, "/runs"), json_body=body, headers=headers
        )

    def list_runs(self, collaboration_id: str) -> list[dict[str, Any]]:
        return self._all(self._collab(collaboration_id, "/runs"))

    def get_run(self, collaboration_id: str, run_id: str) -> dict[str, Any]:
        return self._object("GET", self._collab(collaboration_id, f"/runs/{_seg(run_id)}"))

    def cancel_run(self, collaboration_id: str, run_id: str) -> dict[str, Any]:
        """Cancel a queued or running run (its charge is kept); ``ApiError`` 409 once finished."""
        path = self._collab(collaboration_id, f"/runs/{_seg(run_id)}/cancel")
        return self._object("POST", path, json_body={})

    def wait_for_run(
        self,
        collaboration_id: str,
        run_id: str,
        *,
        timeout: float = 600.0,
        poll: float = 0.25,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Poll until the run ``succeeded`` or ``failed`` and return it; ``on_progress`` sees
        every polled state. Raises :class:`RunWaitTimeout` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        delay = min(poll, 0.05)
        while True:
            run = self.get_run(collaboration_id, run_id)
            if on_progress is not None:
                on_progress(run)
            if run.get("status") in FINISHED:
                return run
            if time.monotonic() >= deadline:
                raise RunWaitTimeout(run_id, timeout)
            time.sleep(delay)
            delay = min(poll, delay * 2)  # quick runs answer quickly, long ones are not hammered

    def get_report(self, collaboration_id: str, run_id: str) -> dict[str, Any]:
        """The report document (docs/specs.md, Report); ``ApiError`` 409 until the run succeeded."""
        return self._object(
            "GET",
            self._collab(collaboration_id, f"/runs/{_seg(run_id)}/report"),
            params={"format": "json"},
        )

    def report(self, collaboration_id: str, run_id: str) -> Report:
        """The report as a :class:`Report` (``.to_pandas()``, ``.records()``); ``ApiError`` 409
        until the run succeeded."""
        return Report(self.get_report(collaboration_id, run_id))

    def download_report(
        self, collaboration_id: str, run_id: str, format: ReportFormat = "json"
    ) -> bytes:
        """The report file as the server renders it: ``json``, ``csv`` or ``parquet``."""
        if format not in REPORT_FORMATS:
            raise ValueError(f"format must be one of {', '.join(REPORT_FORMATS)}")
        response = self.request(
            "GET",
            self._collab(collaboration_id, f"/runs/{_seg(run_id)}/report"),
            params={"format": format},
            timeout=self.timeout * 4,
        )
        return response.content

    # -- budget and audit --------------------------------------------------------------------

    def campaign_kpis(self, collaboration_id: str, campaign_id: str) -> dict[str, Any]:
        """The ``kpis`` report of one campaign: its row of the latest ``campaign_kpis`` report
        (values and 95% intervals), the latest ``match_rate`` rows, and the caller's own
        governance KPIs (docs/governance.md, KPIs)."""
        return self._object(
            "GET", self._collab(collaboration_id, "/kpis"), params={"campaign_id": campaign_id}
        )

    def governance_kpis(self, collaboration_id: str) -> dict[str, Any]:
        """Opt-in rates of the caller's own datasets (and, for the retailer admin, the
        suppression list's matches): exact, the caller's own data only."""
        return self._object("GET", self._collab(collaboration_id, "/kpis/governance"))

    def run_filter_kpis(self, collaboration_id: str, run_id: str) -> dict[str, Any]:
        """Rows one run's consent (and suppression) filters removed from the caller's own
        datasets."""
        return self._object("GET", self._collab(collaboration_id, f"/runs/{_seg(run_id)}/kpis"))

    def budget(self, collaboration_id: str) -> list[dict[str, Any]]:
        """Budget lines (``org``, ``total``, ``spent``, ``remaining``) visible to the caller."""
        return self._all(self._collab(collaboration_id, "/budget"))

    def raise_budget(
        self,
        collaboration_id: str,
        org: str,
        *,
        add: Mapping[str, float] | None = None,
        total: Mapping[str, float] | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Raise one partner's budget (retailer admin): ``add`` tops it up, ``total`` sets higher
        totals. ``{"budget", "previous_total", "warning"}``: a larger budget weakens the
        guarantee already given."""
        if (add is None) == (total is None):
            raise ValueError("give either add or total")
        body: dict[str, Any] = (
            {"add": dict(add)} if add is not None else {"total": dict(total or {})}
        )
        if reason is not None:
            body["reason"] = reason
        path = self._collab(collaboration_id, f"/budget/{_seg(org)}/raise")
        return self._object("POST", path, json_body=body)

    def audit(self, collaboration_id: str) -> list[dict[str, Any]]:
        """Every audit event of the collaboration, oldest first."""
        return self._all(self._collab(collaboration_id, "/audit"))

    def audit_verify(self, collaboration_id: str) -> dict[str, Any]:
        """``{"ok", "events", ...}`` after the server recomputed the hash chain."""
        return self._object("GET", self._collab(collaboration_id, "/audit/verify"))


def _api_error(response: requests.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        detail = body.get("detail") or body.get("title") or response.reason or ""
        return ApiError(response.status_code, body["code"], str(detail), body)
    reason = response.reason or "error"
    return ApiError(
        response.status_code, f"http_{response.status_code}", f"HTTP {response.status_code} "
        f"{reason}", body if isinstance(body, dict) else {}
    )  # fmt: skip
