"""Submitting templates and the retailer admin's approval workflow.

A template is validated at once against the datasets it may use (the retailer's and the
submitting partner's own); a rejection is a ``template_rejected`` error listing every violation
and is recorded in the audit log. Approval acts on exactly one version; a change is a new version.

A version runs only once every org whose data it reads approved it: the retailer admin (for the
whole template) and, for each personal dataset of another org it reads (an advertiser's CRM), an
advertiser of that owner org (``store.approvals``). The template record lists each approver, what
it approves and its decision, so the review shows who approved what.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cleanroom.dp.estimated_bounds import ESTIMATE_ON_SPARK, estimate_problem
from cleanroom.dp.lift import lift_problem
from cleanroom.errors import Forbidden, InvalidRequest, TemplateRejected, Violation
from cleanroom.events import TemplateApproved, TemplateRevoked, TemplateSubmitted
from cleanroom.events import TemplateRejected as TemplateRejectedEvent
from cleanroom.policy import TemplateSource, analyze_template, parse_template_file
from cleanroom.services.access import authorize, can_see, refuse, require_visible
from cleanroom.services.collaborations import policy_of
from cleanroom.services.context import Services
from cleanroom.services.datasets import usable_datasets
from cleanroom.services.lifecycle import require_not_ended
from cleanroom.services.requests import TemplateSubmission
from cleanroom.services.validation import parameters_from_json
from cleanroom.store import Collaboration, Dataset, Template
from cleanroom.types import NAME_RE, DatasetSpec, ParamSpec, Principal, ReleasePlan


@dataclass(frozen=True)
class TemplateText:
    """A stored template's text split into what ``policy`` needs."""

    source: TemplateSource
    parameters: tuple[ParamSpec, ...]
    bounds: Mapping[str, tuple[float, float]]


def template_text(template: Template) -> TemplateText:
    source = parse_template_file(template.sql)
    params = parameters_from_json([dict(p) for p in template.parameters])
    bounds = {k: (float(v[0]), float(v[1])) for k, v in template.bounds.items()}
    return TemplateText(source, params, bounds)


def dataset_specs(svc: Services, collab: Collaboration, org: str) -> dict[str, DatasetSpec]:
    """Specs of the datasets a template of ``org`` may read."""
    usable = usable_datasets(svc, collab.id, (collab.retailer_org, org))
    return {name: DatasetSpec.from_dict(d.spec) for name, d in usable.items()}


def submit_template(
    svc: Services, who: Principal, collaboration_id: str, submission: TemplateSubmission
) -> Template:
    """Validate and store a template as ``pending`` (a known name gets the next version)."""
    collab = authorize(svc, who, collaboration_id, "template.submit")
    require_not_ended(collab, who.org, svc.store.now())
    sql = submission.sql
    try:
        source = parse_template_file(sql)
    except TemplateRejected:
        refuse(svc, who, collab.id, "template.submit", "template_rejected")
        raise
    # A header in the SQL text is authoritative, as for `cleanroom validate`.
    name = source.name if source.has_header and source.name else submission.name
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidRequest("name must be a lower-case name of letters, digits and underscores")
    params = source.parameters if source.has_header else parameters_from_json(submission.parameters)
    purpose = source.purpose if source.has_header and source.purpose else submission.purpose
    if not isinstance(purpose, str) or not purpose:
        raise InvalidRequest("purpose is required (for example 'measurement')")
    bounds = {**submission.bounds, **dict(source.bounds)}
    usable = usable_datasets(svc, collab.id, (collab.retailer_org, who.org))
    try:
        analysis = analyze_template(
            source.sql,
            params,
            purpose,
            policy_of(collab),
            {name: DatasetSpec.from_dict(d.spec) for name, d in usable.items()},
            bounds,
            line_offset=source.line_offset,
            consent=source.consent,
        )
    except TemplateRejected:
        refuse(svc, who, collab.id, "template.submit", "template_rejected")
        raise
    problems = [
        p
        for p in (
            lift_header_problem(sql, source, analysis.plan),
            *estimate_header_problems(sql, source, analysis.plan, svc.settings.engine),
        )
        if p is not None
    ]
    if problems:
        refuse(svc, who, collab.id, "template.submit", "template_rejected")
        raise TemplateRejected(problems)
    return svc.store.submit_template(
        collab.id,
        name,
        who.org,
        who.sub,
        sql,
        [p.to_dict() for p in params],
        purpose,
        bounds={k: list(v) for k, v in bounds.items()},
        analysis=analysis.to_dict(),
        pin=analysis.pin,
        approvers=template_approvers(collab, usable, analysis.datasets),
        audit=TemplateSubmitted(name=name).by(who.sub, who.org),
    )


def lift_header_problem(
    text: str, source: TemplateSource, plan: ReleasePlan | None
) -> Violation | None:
    """A ``-- lift:`` header that the release's outputs cannot carry (cleanroom.dp.lift)."""
    if source.lift is None or plan is None:
        return None
    problem = lift_problem(source.lift, plan)
    if problem is None:
        return None
    header = text.split("\n")[: source.line_offset]
    line = next((i + 1 for i, t in enumerate(header) if "lift" in t.split(":")[0]), 1)
    return Violation("bad_header", problem, line, 1)


def estimate_header_problems(
    text: str, source: TemplateSource, plan: ReleasePlan | None, engine: str
) -> list[Violation]:
    """``-- estimate:`` lines the release cannot carry (cleanroom.dp.estimated_bounds): an
    output that is not a SUM as is (``bad_header``), or any such line on the Spark engine
    (``unsupported_on_spark``)."""
    if not source.estimates or plan is None:
        return []
    header = text.split("\n")[: source.line_offset]
    lines = [
        i + 1 for i, t in enumerate(header) if t.split(":")[0].strip("- ").lower() == "estimate"
    ]
    out = []
    for spec, line in zip(source.estimates.values(), lines, strict=False):
        if engine == "spark":
            out.append(Violation("unsupported_on_spark", ESTIMATE_ON_SPARK, line, 1))
            continue
        problem = estimate_problem(spec, plan)
        if problem is not None:
            out.append(Violation("bad_header", problem, line, 1))
    return out


def template_approvers(
    collab: Collaboration, usable: Mapping[str, Dataset], read: Sequence[str]
) -> list[dict[str, Any]]:
    """Whose approval a template reading ``read`` needs: the retailer for all of it, then each
    other org owning a personal dataset it reads, for those datasets."""
    out: list[dict[str, Any]] = [
        {"org": collab.retailer_org, "as": "retailer", "datasets": sorted(read)}
    ]
    owners: dict[str, list[str]] = {}
    for name in sorted(read):
        dataset = usable.get(name)
        personal = dataset is not None and dataset.kind == "personal"
        if personal and dataset is not None and dataset.owner_org != collab.retailer_org:
            owners.setdefault(dataset.owner_org, []).append(name)
    out += [{"org": org, "as": "data_owner", "datasets": names} for org, names in owners.items()]
    return out


def list_templates(svc: Services, who: Principal, collaboration_id: str) -> list[Template]:
    """The templates ``who`` may see: a partner its own org's, the retailer org every one."""
    collab = authorize(svc, who, collaboration_id, "template.read")
    found = svc.store.list_templates(collab.id)
    return [t for t in found if can_see(who, collab, "template", t.org)]


def get_template(
    svc: Services, who: Principal, collaboration_id: str, template_id: str
) -> Template:
    """One template version; another partner's is ``not_found``, as an unknown id."""
    collab = authorize(svc, who, collaboration_id, "template.read")
    template = svc.store.get_template(template_id, collaboration_id=collab.id)
    require_visible(who, collab, "template", template.org, "template")
    return template


def _reason(body: Mapping[str, Any] | None) -> str | None:
    reason = (body or {}).get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 2000):
        raise InvalidRequest("reason must be a string of at most 2000 characters")
    return reason


_DECISION_EVENTS: dict[str, type[TemplateApproved | TemplateRejectedEvent | TemplateRevoked]] = {
    "approve": TemplateApproved,
    "reject": TemplateRejectedEvent,
    "revoke": TemplateRevoked,
}


def decide_template(
    svc: Services,
    who: Principal,
    collaboration_id: str,
    template_id: str,
    decision: str,
    body: Mapping[str, Any] | None = None,
) -> Template:
    """``approve``, ``reject`` or ``revoke`` one template version: the retailer admin, or for
    ``approve`` / ``reject`` an advertiser of an org owning a personal dataset it reads."""
    if decision not in _DECISION_EVENTS:
        raise InvalidRequest("decision must be approve, reject or revoke")
    as_owner = decision in ("approve", "reject") and who.role == "advertiser"
    action = f"template.{decision}_as_owner" if as_owner else f"template.{decision}"
    collab = authorize(svc, who, collaboration_id, action)
    template = svc.store.get_template(template_id, collaboration_id=collab.id)
    require_visible(who, collab, "template", template.org, "template")
    if as_owner:
        _check_data_owner(svc, who, collab, template, action)
    reason = _reason(body)
    event = _DECISION_EVENTS[decision](
        template_id=template.id, name=template.name, version=template.version
    ).by(who.sub, who.org)
    if decision == "revoke":
        return svc.store.revoke_template(template.id, who.sub, reason=reason, audit=event)
    return svc.store.decide_as_approver(
        template.id,
        who.sub,
        "approved" if decision == "approve" else "rejected",
        org=who.org if as_owner else None,
        reason=reason,
        audit=event,
    )


def _check_data_owner(
    svc: Services, who: Principal, collab: Collaboration, template: Template, action: str
) -> None:
    """An owner's decision needs its org among the version's data owners, still a partner."""
    if not any(a.org == who.org and a.capacity == "data_owner" for a in template.approvals):
        refuse(svc, who, collab.id, action, "forbidden")
        raise Forbidden(
            f"this template reads no personal dataset of {who.org}, so only the retailer admin "
            "approves or rejects it"
        )
    require_not_ended(collab, who.org, svc.store.now())
