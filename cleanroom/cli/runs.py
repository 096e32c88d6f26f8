"""``cleanroom run``: preview or start a run of an approved template, optionally waiting for it
with a progress bar."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from cleanroom.cli.output import emit
from cleanroom.cli.remote import (
    client_command,
    client_options,
    collaboration_option,
    fail,
    make_client,
)

RUN_COLUMNS = ["id", "template_id", "status", "progress", "privacy_loss", "error"]


def parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``k=v`` pairs; each value is read as JSON when it parses (``14``, ``["c1"]``), else text.

    >>> parse_params(("window_days=14", "brand=acme", 'ids=["c1","c2"]'))
    {'window_days': 14, 'brand': 'acme', 'ids': ['c1', 'c2']}
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--param")
        try:
            out[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[name.strip()] = raw
    return out


@click.command("run")
@collaboration_option
@click.option("--template", "template_id", required=True, help="The approved template's id.")
@click.option("--param", "params", multiple=True, help="Parameter NAME=VALUE (repeatable).")
@click.option("--epsilon", type=click.FloatRange(min=0.0, min_open=True), default=1.0,
              show_default=True, help="Privacy loss epsilon charged for this run.")  # fmt: skip
@click.option("--delta", type=click.FloatRange(min=0.0, max=1.0), help="Privacy loss delta.")
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
    client = make_client(url, token, timeout)
    parameters = parse_params(params)
    if preview:
        emit(client.preview_run(collaboration_id, template_id, parameters, epsilon, delta), as_json)
        return
    created = client.create_run(
        collaboration_id, template_id, parameters, epsilon, delta, idempotency_key=idempotency_key
    )
    if wait:
        created = _wait(client, collaboration_id, created["id"], wait_timeout)
    emit(created, as_json, None if as_json else RUN_COLUMNS)
    if created.get("status") == "failed":
        error = created.get("error") or {}
        fail(f"{error.get('code', 'execution_failed')}: {error.get('message', 'the run failed')}")


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
