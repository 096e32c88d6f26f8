"""Datasets: the list (schemas and versions, never rows), upload with a spec editor, delete."""

from __future__ import annotations

import json
from typing import Any

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from cleanroom.errors import CleanroomError, InvalidRequest
from cleanroom.services import collaborations, datasets
from cleanroom.web.api.uploads import declared_format, saved_upload, upload_part
from cleanroom.web.console.blueprint import bp, page, svc, who
from cleanroom.web.console.session import signed_in


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
            registered = datasets.register_dataset(
                svc(), who(), cid, path, spec, file_format=declared_format(storage)
            )
    except CleanroomError as err:
        if err.status >= 500 or err.status in (401, 404):
            raise
        return _list_page(cid, err.status, spec=spec_text, error=err.detail)
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
