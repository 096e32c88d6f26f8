"""KPIs that tie governance to money (docs/governance.md, KPIs).

Two kinds, from two sources, and no new path to data:

- **Campaign KPIs** (conversion rate, AOV, repeat-purchase rate, 90-day value per exposed shopper,
  match rate) are released by the shipped templates ``campaign_kpis`` and ``match_rate`` through
  the ordinary run path (compiled, noised, charged). :func:`campaign_kpis` only reads back the
  latest succeeded reports the caller may read, with their intervals.
- **Governance KPIs** (opt-in rate per dataset and purpose, suppression-list matches, rows a
  run's consent filter removed) read what templates cannot: consent columns and the suppression
  list. They are exact counts over the stored files (:func:`cleanroom.ingest.dataset_figures`),
  shown **only to the org that owns the data counted** (``governance_kpi`` in
  ``cleanroom.visibility``): a partner sees its own datasets' opt-in rates, the retailer its own
  and the suppression list's matches against its own datasets. Nobody is offered another org's
  exact figures, so nothing here is charged to a budget. A partner gets the retailer's opt-in
  rate with differential privacy from the shipped consent analysis ``opt_in_rate`` (an ordinary,
  charged run; its report's ``opt_in`` member, :mod:`cleanroom.dp.opt_in`), not from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cleanroom import visibility
from cleanroom.errors import InvalidRequest, NotFound
from cleanroom.ingest import DatasetFigures, dataset_figures
from cleanroom.permissions import allowed
from cleanroom.services.access import authorize, check_allowed, sight_of
from cleanroom.services.context import Services
from cleanroom.services.reports import get_report
from cleanroom.services.runs import list_runs
from cleanroom.store import Collaboration, Dataset, DatasetVersion, Run
from cleanroom.types import DatasetSpec, Principal

CAMPAIGN_TEMPLATE = "campaign_kpis"
MATCH_RATE_TEMPLATE = "match_rate"
OPT_IN_TEMPLATE = "opt_in_rate"
CAMPAIGN_KEY = "campaign_id"


def _owns(who: Principal, collab: Collaboration, owner_org: str) -> bool:
    found = sight_of(who, collab, "governance_kpi", owner_org)
    return found == visibility.FULL


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _figures(
    svc: Services, dataset: Dataset, version: DatasetVersion, suppressed: list[bytes]
) -> DatasetFigures | None:
    """Counts over one version's stored file; None when it was purged or is not personal."""
    if dataset.kind != "personal" or version.purged_at is not None:
        return None
    path = svc.settings.data_dir / version.path
    if not path.exists():
        return None
    spec = DatasetSpec.from_dict(dataset.spec)
    consent = [c.name for c in spec.columns if c.role == "consent"]
    return dataset_figures(path, consent, suppressed)


def _consent_purposes(dataset: Dataset) -> dict[str, str]:
    """Consent column name -> the purpose it grants."""
    spec = DatasetSpec.from_dict(dataset.spec)
    return {c.name: c.purpose for c in spec.columns if c.role == "consent" and c.purpose}


def _opt_in(
    dataset: Dataset, version: DatasetVersion, found: DatasetFigures
) -> list[dict[str, Any]]:
    out = []
    for column, purpose in sorted(_consent_purposes(dataset).items(), key=lambda kv: kv[1]):
        c = found.consent[column]
        out.append(
            {
                "dataset": dataset.name,
                "version": version.version,
                "purpose": purpose,
                "consent_column": column,
                "rows": found.rows,
                "rows_opted_in": c.rows_opted_in,
                "row_rate": _rate(c.rows_opted_in, found.rows),
                "people": found.people,
                "people_opted_in": c.people_opted_in,
                "people_rate": _rate(c.people_opted_in, found.people),
            }
        )
    return out


def _may_see_suppression(who: Principal, collab: Collaboration) -> bool:
    return allowed(who.role, "kpis.suppression") and _owns(who, collab, collab.retailer_org)


def _governance(
    svc: Services, who: Principal, collab: Collaboration, datasets: Iterable[Dataset]
) -> dict[str, Any]:
    own = [d for d in datasets if _owns(who, collab, d.owner_org) and d.current is not None]
    with_list = _may_see_suppression(who, collab)
    suppressed = svc.store.list_suppressed_pids(collab.id) if with_list else []
    opt_in: list[dict[str, Any]] = []
    matches: list[dict[str, Any]] = []
    for dataset in own:
        assert dataset.current is not None
        found = _figures(svc, dataset, dataset.current, suppressed)
        if found is None:
            continue
        opt_in += _opt_in(dataset, dataset.current, found)
        if with_list:
            matches.append(
                {
                    "dataset": dataset.name,
                    "version": dataset.current.version,
                    "people": found.people,
                    "suppressed_people": found.suppressed_people,
                    "suppressed_rows": found.suppressed_rows,
                }
            )
    out: dict[str, Any] = {"org": who.org, "exact": True, "opt_in": opt_in}
    if with_list:
        out["suppression"] = {"listed": len(suppressed), "datasets": matches}
    return out


def governance_kpis(svc: Services, who: Principal, collaboration_id: str) -> dict[str, Any]:
    """Opt-in rates of the caller's own org's datasets (per consent column, i.e. per purpose);
    for the retailer admin also how many people of the suppression list each of the retailer's
    datasets holds. Exact; never another org's data."""
    collab = authorize(svc, who, collaboration_id, "kpis.read")
    return _governance(svc, who, collab, svc.store.list_datasets(collab.id))


def run_filter_kpis(
    svc: Services, who: Principal, collaboration_id: str, run_id: str
) -> dict[str, Any]:
    """How many rows of each dataset the run read its consent filter (and, for the retailer
    admin, the suppression list) removed: only for datasets the caller's org owns."""
    collab = authorize(svc, who, collaboration_id, "kpis.read")
    report = get_report(svc, who, collab.id, run_id)  # the run must be visible and succeeded
    return _run_filters(svc, who, collab, report)


def _run_filters(
    svc: Services, who: Principal, collab: Collaboration, report: Mapping[str, Any]
) -> dict[str, Any]:
    template = svc.store.get_template(str(report["template"]["id"]), collaboration_id=collab.id)
    with_list = _may_see_suppression(who, collab)
    suppressed = svc.store.list_suppressed_pids(collab.id) if with_list else []
    by_name = {d.name: d for d in svc.store.list_datasets(collab.id)}
    removed = []
    for read in report.get("datasets") or []:
        dataset = by_name.get(str(read.get("name")))
        if dataset is None or not _owns(who, collab, dataset.owner_org):
            continue
        versions = svc.store.list_dataset_versions(dataset.id)
        version = next((v for v in versions if v.version == read.get("version")), None)
        found = None if version is None else _figures(svc, dataset, version, suppressed)
        if version is None or found is None:
            continue
        column = next(
            (c for c, p in _consent_purposes(dataset).items() if p == template.purpose), None
        )
        item: dict[str, Any] = {
            "dataset": dataset.name,
            "version": version.version,
            "rows": found.rows,
            "consent_column": column,
            "rows_removed_by_consent": 0 if column is None else found.consent[column].rows_removed,
        }
        if with_list:
            item["rows_removed_by_suppression"] = found.suppressed_rows
        removed.append(item)
    return {"run_id": report["run_id"], "purpose": template.purpose, "datasets": removed}


def _latest_report(
    svc: Services, who: Principal, collab: Collaboration, template_name: str
) -> tuple[Run, dict[str, Any]] | None:
    """The newest succeeded run of a template of that name the caller may read, and its
    report (the read is audited as a download, like any report read)."""
    names: dict[str, str] = {}
    found = None
    for run in list_runs(svc, who, collab.id):
        if run.status != "succeeded":
            continue
        if run.template_id not in names:
            template = svc.store.get_template(run.template_id, collaboration_id=collab.id)
            names[run.template_id] = template.name
        if names[run.template_id] == template_name and (
            found is None
            or (run.finished_at or run.created_at) >= (found.finished_at or found.created_at)
        ):
            found = run
    if found is None:
        return None
    return found, get_report(svc, who, collab.id, found.id)


def _cells(report: Mapping[str, Any], row_index: int) -> dict[str, Any]:
    """One report row's outputs as ``{column: {"value", "interval"}}`` (keys: value only)."""
    row = report["rows"][row_index]
    intervals = (report.get("accuracy") or {}).get("row_intervals") or []
    bounds = intervals[row_index] if row_index < len(intervals) else {}
    out: dict[str, Any] = {}
    for column in report.get("columns") or []:
        cell: dict[str, Any] = {"value": row.get(column)}
        if column in bounds:
            cell["interval"] = bounds[column]
        out[column] = cell
    return out


def _source(run: Run, report: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "org": run.org,
        "template_version": report["template"]["version"],
        "parameters": dict(report.get("parameters") or {}),
        "privacy_loss": {"epsilon": run.epsilon, "delta": run.delta},
        "created_at": report.get("created_at"),
    }


def campaign_kpis(
    svc: Services, who: Principal, collaboration_id: str, campaign_id: Any
) -> dict[str, Any]:
    """The ``kpis`` report of one campaign: the latest succeeded ``campaign_kpis`` row for it
    (values and 95% intervals, as released), the latest ``match_rate`` rows, the latest
    ``opt_in_rate`` report's opt-in rates (differentially private: how a partner learns the
    retailer's opt-in rate), the governance KPIs the caller may see (exact, own data only) and
    what that run's filters removed."""
    collab = authorize(svc, who, collaboration_id, "kpis.read")
    check_allowed(svc, who, collab, "report.read")
    if not isinstance(campaign_id, str) or not campaign_id:
        raise InvalidRequest("campaign_id is required")
    latest = _latest_report(svc, who, collab, CAMPAIGN_TEMPLATE)
    if latest is None:
        raise NotFound(
            f"no succeeded {CAMPAIGN_TEMPLATE} run to read; run the {CAMPAIGN_TEMPLATE} template"
        )
    run, report = latest
    index = next(
        (i for i, r in enumerate(report["rows"]) if r.get(CAMPAIGN_KEY) == campaign_id), None
    )
    if index is None:
        raise NotFound(
            f"the latest {CAMPAIGN_TEMPLATE} report has no row for campaign '{campaign_id}' "
            "(not in its campaign_ids, or dropped below the minimum people per row)"
        )
    out: dict[str, Any] = {
        "collaboration_id": collab.id,
        "campaign_id": campaign_id,
        "campaign": {"source": _source(run, report), "values": _cells(report, index)},
    }
    match = _latest_report(svc, who, collab, MATCH_RATE_TEMPLATE)
    if match is not None:
        match_run, match_report = match
        out["match_rate"] = {
            "source": _source(match_run, match_report),
            "rows": [_cells(match_report, i) for i in range(len(match_report["rows"]))],
        }
    opt_in = _latest_report(svc, who, collab, OPT_IN_TEMPLATE)
    if opt_in is not None and opt_in[1].get("opt_in"):
        opt_in_run, opt_in_report = opt_in
        out["opt_in_rate"] = {
            "source": _source(opt_in_run, opt_in_report),
            "opt_in": opt_in_report["opt_in"],
        }
    out["governance"] = _governance(svc, who, collab, svc.store.list_datasets(collab.id))
    out["governance"]["run_filters"] = _run_filters(svc, who, collab, report)["datasets"]
    return out
