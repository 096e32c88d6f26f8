"""From a run request to a compiled, costed plan, without touching data.

Shared by ``preview`` (which stops here), ``create_run`` (which then charges) and the worker
(which compiles again at execution time and checks the approval pin).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cleanroom.budget import fits
from cleanroom.dp import LossSplit, Preview, PrivacyLoss, preview
from cleanroom.dp.estimated_bounds import ESTIMATE_ON_SPARK, estimate_problem
from cleanroom.dp.lift import lift_problem
from cleanroom.dp.loss import compose
from cleanroom.dp.split import check_weights
from cleanroom.errors import (
    Conflict,
    InvalidParameter,
    InvalidRequest,
    NotFound,
    TemplateNotApproved,
    TemplateRejected,
    Violation,
)
from cleanroom.policy import compile_template, parameter_problems
from cleanroom.services.collaborations import policy_of
from cleanroom.services.context import Services
from cleanroom.services.datasets import require_current, usable_datasets
from cleanroom.services.requests import RequestedLoss
from cleanroom.services.templates import template_text
from cleanroom.specs import EstimateSpec
from cleanroom.store import Collaboration, DatasetVersion, Template
from cleanroom.types import CollaborationPolicy, CompiledQuery, DatasetSpec, LiftSpec

Bounds = Mapping[str, tuple[float, float]]


@dataclass(frozen=True)
class RunPlan:
    template: Template
    policy: CollaborationPolicy
    compiled: CompiledQuery
    versions: Mapping[str, DatasetVersion]  # dataset name -> the version the run reads
    split: LossSplit
    noise: str
    weights: Mapping[str, float]  # per output or measurement: the template's, then the request's
    expected: Preview  # the calibration (mechanisms, half-widths): what preview shows, once
    lift: LiftSpec | None = None  # the template's ``-- lift:`` header (cleanroom.dp.lift)
    consent: str | None = None  # the template's ``-- consent:`` dataset (cleanroom.dp.opt_in)
    # ``-- estimate:`` lines (cleanroom.dp.estimated_bounds) and the epsilon each spends; the
    # split is of what is left. ``declared_bounds`` and ``recompile`` let the run compile the
    # release again with the estimated bounds (same seed, so the same group cap).
    estimates: tuple[EstimateSpec, ...] = ()
    estimate_epsilons: Mapping[str, float] = field(default_factory=dict)
    declared_bounds: Bounds = field(default_factory=dict)
    recompile: Callable[[Bounds], CompiledQuery] | None = None

    @property
    def loss(self) -> PrivacyLoss:
        """What the ledger charges: the loss the split actually uses, plus the estimates'."""
        if not self.estimates:
            return self.split.total
        parts = [self.split.total, *(PrivacyLoss(e, 0.0) for e in self.estimate_epsilons.values())]
        epsilon, delta = compose(parts)
        return PrivacyLoss(epsilon, delta)

    @property
    def release_loss(self) -> PrivacyLoss:
        """The loss the release may use: the requested loss less the estimates' epsilon."""
        return self.split.requested


def requested_loss(
    requested: RequestedLoss | PrivacyLoss, policy: CollaborationPolicy, needs_delta: bool
) -> PrivacyLoss:
    """The loss to split: a request's, whose missing delta defaults to a tenth of the
    collaboration's delta budget when the release needs one (threshold partition selection or
    Gaussian noise), or a queued run's charge as it is. Either is held to the collaboration's
    per-run epsilon maximum as it is now; both coordinates are held to the org's budget line by
    the ledger (and the preview's ``affordable``), with the one rule of ``cleanroom.budget``."""
    if isinstance(requested, RequestedLoss):
        delta = requested.delta
        if delta is None:
            delta = policy.delta_budget / 10 if needs_delta else 0.0
        loss = PrivacyLoss(requested.epsilon, delta)
    else:
        loss = requested
    if not fits(loss.epsilon, spent=0.0, total=policy.max_epsilon_per_run):
        raise InvalidRequest(
            f"epsilon {loss.epsilon} is above this collaboration's maximum per run "
            f"({policy.max_epsilon_per_run})"
        )
    return loss


def plan_run(
    svc: Services,
    collab: Collaboration,
    template_id: str,
    parameters: Mapping[str, Any],
    privacy_loss: RequestedLoss | PrivacyLoss,
    *,
    org: str,
    require_approved: bool = True,
    weights: Mapping[str, float] | None = None,
) -> RunPlan:
    """Load, check, compile and cost a run of ``template_id`` for ``org``. Touches no data.

    ``privacy_loss`` is a request's (:class:`RequestedLoss`) or, for a queued run, the loss it
    was charged. ``weights`` are the run request's per-output weights (already checked); they
    override the template header's for the outputs they name."""
    try:
        template = svc.store.get_template(template_id, collaboration_id=collab.id)
    except NotFound:
        raise NotFound("template not found") from None
    if template.org != org:
        raise NotFound("template not found")  # another partner's templates are not visible
    if require_approved and template.status != "approved":
        raise TemplateNotApproved(f"template version {template.version} is {template.status}")
    policy = policy_of(collab)
    usable = usable_datasets(svc, collab.id, (collab.retailer_org, org))
    specs = {name: DatasetSpec.from_dict(d.spec) for name, d in usable.items()}
    text = template_text(template)
    problems = parameter_problems(text.parameters, parameters)
    if problems:  # the values are wrong, not the template: say so before compiling
        raise InvalidParameter(problems)
    # The version each dataset's rows come from; used for the rewrite's row-cap facts, and
    # checked for expiry below for the datasets the template actually reads.
    current = {name: d.current for name, d in usable.items() if d.current is not None}
    estimates = tuple(text.source.estimates.values())
    if estimates and svc.settings.engine == "spark":
        raise TemplateRejected([Violation("unsupported_on_spark", ESTIMATE_ON_SPARK, 0, 0)])
    # Keys the per-person choice of rows and groups the caps keep: secret, fresh per run.
    seed = secrets.randbits(62)

    def recompile(bounds: Bounds) -> CompiledQuery:
        return compile_template(
            text.source.sql,
            text.parameters,
            dict(parameters),
            template.purpose,
            policy,
            specs,
            bounds,
            line_offset=text.source.line_offset,
            engines=(svc.settings.engine,),  # only the SQL this deployment's engine runs
            # Measured at ingestion: lets the rewrite drop a per-person row cap that cannot bind.
            observed_max_rows={
                name: version.max_rows_per_person
                for name, version in current.items()
                if version.max_rows_per_person is not None
            },
            seed=seed,
            consent=text.source.consent,
        )

    compiled = recompile(text.bounds)
    if require_approved and compiled.pin != template.pin:
        raise Conflict("the template no longer matches its approved form; submit it again")
    approved_for = {name for a in template.approvals for name in a.datasets}
    if require_approved and template.approvals and not set(compiled.datasets) <= approved_for:
        raise Conflict("the template reads data its approvals do not cover; submit it again")
    now = svc.store.now()
    versions = {name: require_current(usable[name], now) for name in compiled.datasets}
    noise = svc.settings.noise
    # A delta is spent by default when partition selection needs one, or when the
    # collaboration has a delta budget and Gaussian noise may be chosen.
    may_pool = noise == "gaussian" or (noise == "auto" and policy.delta_budget > 0)
    needs_delta = may_pool or not compiled.plan.keys_are_public
    loss = requested_loss(privacy_loss, policy, needs_delta)
    for e in estimates:
        problem = estimate_problem(e, compiled.plan)
        if problem:
            raise InvalidRequest(
                f"the template's estimate header does not fit its outputs: {problem}"
            )
    # Each estimate spends its share of the requested epsilon; the release splits the rest.
    estimate_epsilons = {e.output: loss.epsilon * e.share for e in estimates}
    if estimates:
        left = loss.epsilon - math.fsum(estimate_epsilons.values())
        loss = PrivacyLoss(left, loss.delta)
    chosen = {
        **check_weights(text.source.weights, "the template's weights"),
        **(weights or {}),
    }
    # The same calibration the release does (data-independent): what is charged is what it uses.
    expected = preview(compiled.plan, loss, noise=noise, weights=chosen)
    split = expected.loss_split
    lift = text.source.lift
    problem = None if lift is None else lift_problem(lift, compiled.plan)
    if problem:
        raise InvalidRequest(f"the template's lift header does not fit its outputs: {problem}")
    return RunPlan(
        template,
        policy,
        compiled,
        versions,
        split,
        noise,
        chosen,
        expected,
        lift,
        text.source.consent,
        estimates,
        estimate_epsilons,
        dict(text.bounds),
        recompile,
    )
