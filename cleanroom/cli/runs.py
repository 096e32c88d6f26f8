"""``cleanroom run``: preview or start a run of an approved template, optionally waiting for it
with a progress bar; ``cleanroom runs list|get|cancel``: the runs of a collaboration."""

from __future__ import annotations

import sys
from typing import Any

import click

from cleanroom.cli import exits
from cleanroom.cli.output import emit
from cleanroom.cli.params import BadParameters, parse_numbers, parse_params
from cleanroom.cli.remote import (
    client_command,
    client_options,
    collaboration_option,
    fail,
    fail_with,
    make_client,
)
from cleanroom.client import ApiClient

RUN_COLUMNS = ["id", "template_id", "status", "progress", "privacy_loss", "error"]
LIST_COLUMNS = ["id", "template_id", "status", "progress", "privacy_loss", "created_at"]


def _parameters(
    client: ApiClient, collaboration_id: str, template_id: str, pairs: tuple[str, ...],
    as_json: bool,
) -> dict[str, Any]:  # fmt: skip
    """The ``--param`` pairs typed by the template's declarations; a bad one exits 5."""
    if not pairs:
        return {}
    declared = client.get_template(collaboration_id, template_id).get("parameters") or []
    try:
        return parse_params(pairs, declared)
    except BadParameters as bad:
        problem = {"status": 400, "code": "invalid_parameter", "detail": str(bad),
                   "problems": bad.problems}  # fmt: skip
        fail_with(problem, f"invalid_parameter: {bad}", exits.BAD_PARAMETER, as_json)


@click.command("run")
@collaboration_option
@click.option("--template", "template_id", required=True, help="The approved template's id.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A parameter value (repeatable); lists as a,b,c (or JSON).")  # fmt: skip
@click.option("--epsilon", type=click.FloatRange(min=0.0, min_open=True), default=1.0,
              show_default=True, help="Privacy loss epsilon charged for this run.")  # fmt: skip
@click.option("--delta", type=click.FloatRange(min=0.0, max=1.0), help="Privacy loss delta.")
@click.option("--weight", "weights", multiple=True, metavar="OUTPUT=WEIGHT",
              help="An output's share of the loss relative to the others (repeatable); "
                   "overrides the template's weight lines.")  # fmt: skip
@click.option("--target", "targets", multiple=True, metavar="OUTPUT=HALF_WIDTH",
              help="With --preview: the 95% half-width wanted for an output, in its units "
                   "(repeatable); the preview answers the smallest epsilon for them.")  # fmt: skip
@click.option("--preview", is_flag=True, help="Only show cost and expected accuracy.")
@click.option("--wait", is_flag=True, help="Wait for the run to finish, with a progress bar.")
@click.option("--idempotency-key", help="Repeating a request with the same key starts no new run.")
@click.option("--wait-timeout", type=click.FloatRange(min=1.0), default=3600.0,
              show_default=True, help="Seconds --wait waits at most.")  # fmt: skip
@client_options
@client_command
def run(
    collaboration_id: str,
    template_id: str,
    params: tuple[str, ...],
    epsilon: float,
    delta: float | None,
    weights: tuple[str, ...],
    targets: tuple[str, ...],
    preview: bool,
    wait: bool,
    idempotency_key: str | None,
    wait_timeout: float,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Run an approved template (its privacy loss is charged when the run is queued)."""
    if targets and not preview:
        raise click.UsageError("--target needs --preview (a run is charged for its epsilon)")
    weighted = parse_numbers(weights, "--weight")
    wanted = parse_numbers(targets, "--target")
    client = make_client(url, token, timeout)
    parameters = _parameters(client, collaboration_id, template_id, params, as_json)
    if preview:
        answer = client.preview_run(
            collaboration_id, template_id, parameters, epsilon, delta, weighted, wanted
        )
        emit(answer, as_json)
        if not as_json and answer.get("target"):
            click.echo(target_text(answer["target"]))
        return
    created = client.create_run(
        collaboration_id, template_id, parameters, epsilon, delta,
        idempotency_key=idempotency_key, weights=weighted,
    )  # fmt: skip
    if wait:
        created = _wait(client, collaboration_id, created["id"], wait_timeout)
    emit(created, as_json, None if as_json else RUN_COLUMNS)
    if created.get("status") == "failed":
        error = created.get("error") or {}
        fail(f"{error.get('code', 'execution_failed')}: {error.get('message', 'the run failed')}")


def target_text(target: dict[str, Any]) -> str:
    """The preview's answer to accuracy targets, in one sentence."""
    wanted = ", ".join(f"{k} ±{v:,.4g}" for k, v in (target.get("targets") or {}).items())
    if not target.get("met"):
        return (
            f"targets {wanted}: not met at any epsilon up to {target.get('max_epsilon')} "
            "(the collaboration's maximum per run); loosen a target or a bound"
        )
    budget = (
        "the remaining budget affords it"
        if target.get("affordable")
        else ("the remaining budget does NOT afford it")
    )
    return f"targets {wanted}: smallest epsilon {target['epsilon']:g}; {budget}"


def _wait(client: Any, collaboration_id: str, run_id: str, wait_timeout: float) -> dict[str, Any]:
    with click.progressbar(length=100, label=f"run {run_id}", file=sys.stderr) as bar:
        shown = [0]

        def show(state: dict[str, Any]) -> None:
            done = 100 if state.get("status") in ("succeeded", "failed") else 0
            pct = max(done, round(100 * float(state.get("progress") or 0.0)))
            if pct > shown[0]:
                bar.update(pct - shown[0])
                shown[0] = pct

        final: dict[str, Any] = client.wait_for_run(
            collaboration_id, run_id, timeout=wait_timeout, on_progress=show
        )
    return final


@click.group("runs")
def runs() -> None:
    """List, inspect and cancel runs (your org's; the retailer admin sees every partner's)."""


@runs.command("list")
@collaboration_option
@client_options
@client_command
def list_(
    collaboration_id: str, url: str | None, token: str | None, timeout: float, as_json: bool
) -> None:
    """The collaboration's runs you may see, oldest first."""
    emit(make_client(url, token, timeout).list_runs(collaboration_id), as_json, LIST_COLUMNS)


@runs.command("get")
@collaboration_option
@click.argument("run_id")
@client_options
@client_command
def get(
    collaboration_id: str, run_id: str, url: str | None, token: str | None, timeout: float,
    as_json: bool,
) -> None:  # fmt: skip
    """One run: status, progress, privacy loss and, when it failed, why."""
    emit(make_client(url, token, timeout).get_run(collaboration_id, run_id), as_json)


@runs.command("cancel")
@collaboration_option
@click.argument("run_id")
@client_options
@client_command
def cancel(
    collaboration_id: str, run_id: str, url: str | None, token: str | None, timeout: float,
    as_json: bool,
) -> None:  # fmt: skip
    """Cancel a queued or running run of your org: it fails with code ``cancelled``, releases
    nothing, and keeps its charge."""
    cancelled = make_client(url, token, timeout).cancel_run(collaboration_id, run_id)
    emit(cancelled, as_json, None if as_json else RUN_COLUMNS)
