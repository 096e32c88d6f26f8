"""Datasets: the list (schemas and versions, never rows), upload with a spec editor, delete.

Uploading takes two steps: the file, whose header the console reads to draft a spec (roles
proposed, each to be confirmed), then the confirmed spec, which registers the file kept in
between (:mod:`cleanroom.web.console.staging`). A spec written in JSON can still be sent with the
file in one step. Ingestion problems come back located by column and row."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from cleanroom.errors import CleanroomError, DatasetInvalid, DatasetProblem, InvalidRequest
from cleanroom.services import access, collaborations, datasets
from cleanroom.services.requests import DatasetRegistration
from cleanroom.services.spec_draft import draft_spec
from cleanroom.web.api.uploads import declared_format, saved_upload, upload_part
from cleanroom.web.console import staging
from cleanroom.web.console.blueprint import bp, page, svc, who
from cleanroom.web.console.session import signed_in
from cleanroom.web.console.spec_editor import (
    KINDS,
    NUMBER_TYPES,
    ROLES,
    SpecForm,
    form_from_draft,
    form_from_request,
    spec_from_form,
    spec_json,
)


def _list_page(cid: str, status: int = 200, **context: Any) -> Response:
    services, principal = svc(), who()
    collab = collaborations.get_collaboration(services, principal, cid)
    found = datasets.list_dataset_views(services, principal, cid)
    versions = {
        d["id"]: datasets.dataset_version_views(services, principal, cid, d["id"]) for d in found
    }
    return page("datasets.html", status, collab=collab, datasets=found, versions=versions,
                spec=context.pop("spec", ""), **context)  # fmt: skip


@bp.get("/c/<cid>/datasets")
@signed_in
def datasets_list(cid: str) -> Response:
    return _list_page(cid)


@bp.post("/c/<cid>/datasets")
@signed_in
def dataset_upload(cid: str) -> Response:
    """The file and its spec, registered as the API registers them."""
    spec_text = request.form.get("spec", "")
    try:
        try:
            spec = json.loads(spec_text)
        except ValueError:
            raise InvalidRequest("the spec is not valid JSON") from None
        storage = upload_part()
        if not storage.filename:
            raise InvalidRequest("choose a CSV or Parquet file to upload")
        with saved_upload(storage) as path:
            registration = DatasetRegistration.from_json(spec, declared_format(storage))
            registered = datasets.register_dataset(svc(), who(), cid, path, registration)
    except CleanroomError as err:
        if err.status >= 500 or err.status in (401, 404):
            raise
        return _list_page(cid, err.status, spec=spec_text, error=err.detail, problems=_located(err))
    message = f"{registered['name']} version {registered['version']} registered"
    return _list_page(cid, 201, message=message)


def _located(err: CleanroomError) -> list[DatasetProblem]:
    """The problems of a refused upload that name a column or a row (shown as a table)."""
    if not isinstance(err, DatasetInvalid):
        return []
    return [p for p in err.problems if p.column is not None or p.row is not None]


@bp.post("/c/<cid>/datasets/stage")
@signed_in
def dataset_stage(cid: str) -> Response:
    """Step one: keep the file and open the spec editor on the spec drafted from its header."""
    access.authorize(svc(), who(), cid, "dataset.register")
    kind = request.form.get("kind", "personal")
    try:
        if kind not in KINDS:
            raise InvalidRequest(f"the kind must be one of {', '.join(KINDS)}")
        storage = upload_part()
        if not storage.filename:
            raise InvalidRequest("choose a CSV or Parquet file to upload")
        staging.stage(storage, cid, declared_format(storage), kind)
    except CleanroomError as err:
        if err.status >= 500 or err.status in (401, 404):
            raise
        return _list_page(cid, err.status, stage_error=err.detail)
    return redirect(url_for("console.dataset_spec_editor", cid=cid), 303)


def _draft_form(kept: staging.Staged) -> SpecForm:
    """The editor's starting point: the spec drafted from the kept file's header."""
    name = Path(kept.filename).stem
    draft = draft_spec(kept.path, _dataset_name(name), kept.kind, kept.file_format)
    return form_from_draft(draft)


def _dataset_name(stem: str) -> str:
    """A dataset name proposed from the file name (``Acme CRM.csv`` -> ``acme_crm``).

    >>> _dataset_name("Acme CRM 2026"), _dataset_name("---")
    ('acme_crm_2026', 'dataset')
    """
    return re.sub(r"[^a-z0-9_]+", "_", stem.lower()).strip("_")[:63] or "dataset"


def _editor(
    cid: str,
    kept: staging.Staged,
    form: SpecForm,
    status: int = 200,
    problems: list[DatasetProblem] | None = None,
    error: str | None = None,
) -> Response:
    services, principal = svc(), who()
    collab = collaborations.get_collaboration(services, principal, cid)
    spec, _ = spec_from_form(form)
    by_column: dict[str, list[DatasetProblem]] = {}
    for problem in problems or []:
        by_column.setdefault(problem.column or "", []).append(problem)
    return page("dataset_spec.html", status, collab=collab, kept=kept, form=form,
                roles=ROLES, number_types=NUMBER_TYPES, problems=problems or [],
                by_column=by_column, error=error, spec_json=spec_json(spec))  # fmt: skip


@bp.get("/c/<cid>/datasets/spec")
@signed_in
def dataset_spec_editor(cid: str) -> Response:
    kept = staging.staged(cid)
    return _editor(cid, kept, _draft_form(kept))


@bp.post("/c/<cid>/datasets/spec")
@signed_in
def dataset_spec_submit(cid: str) -> Response:
    """Step two: register the kept file with the confirmed spec, or discard it."""
    if request.form.get("action") == "discard":
        staging.discard()
        return redirect(url_for("console.datasets_list", cid=cid), 303)
    kept = staging.staged(cid)
    form = form_from_request(request.form, _draft_form(kept))
    if request.form.get("action") == "update":  # a role changed: show the fields it needs
        return _editor(cid, kept, form)
    spec, problems = spec_from_form(form)
    if problems:
        detail = "; ".join(p.message for p in problems)
        return _editor(cid, kept, form, 422, problems, detail)
    try:
        registration = DatasetRegistration.from_json(spec, kept.file_format)
        registered = datasets.register_dataset(svc(), who(), cid, kept.path, registration)
    except CleanroomError as err:
        if err.status >= 500 or err.status in (401, 404):
            raise
        located = err.problems if isinstance(err, DatasetInvalid) else []
        return _editor(cid, kept, form, err.status, located, err.detail)
    staging.discard()
    message = f"{registered['name']} version {registered['version']} registered"
    return _list_page(cid, 201, message=message)


@bp.get("/c/<cid>/datasets/<did>/delete")
@signed_in
def dataset_delete_confirm(cid: str, did: str) -> Response:
    services, principal = svc(), who()
    collab = collaborations.get_collaboration(services, principal, cid)
    dataset = datasets.get_dataset_view(services, principal, cid, did)
    return page("dataset_delete.html", collab=collab, dataset=dataset)


@bp.post("/c/<cid>/datasets/<did>/delete")
@signed_in
def dataset_delete(cid: str, did: str) -> Response:
    if request.form.get("confirm") != "delete":
        return redirect(url_for("console.dataset_delete_confirm", cid=cid, did=did))
    datasets.delete_dataset(svc(), who(), cid, did)
    return redirect(url_for("console.datasets_list", cid=cid))
