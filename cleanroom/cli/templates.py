"""``cleanroom templates submit|list|approve|reject|revoke``: the template approval workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import click

from cleanroom.cli.output import emit
from cleanroom.cli.remote import client_command, client_options, collaboration_option, make_client

COLUMNS = ["id", "name", "version", "org", "purpose", "status", "awaiting_approval"]


def _summary(template: dict[str, Any]) -> dict[str, Any]:
    return {c: template.get(c) for c in COLUMNS}


@click.group("templates")
def templates() -> None:
    """Submit templates (partners) and approve, reject or revoke them (retailer admin)."""


@templates.command("submit")
@collaboration_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Template name when FILE has no header (default: FILE's stem).")
@click.option("--purpose", help="Purpose when FILE has no header (e.g. measurement).")
@client_options
@client_command
def submit(
    collaboration_id: str,
    file: Path,
    name: str | None,
    purpose: str | None,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Submit the template in FILE.sql; it waits as ``pending`` for the retailer's approval."""
    sql = file.read_text(encoding="utf-8")
    client = make_client(url, token, timeout)
    template = client.submit_template(
        collaboration_id, sql, name=name or file.stem, purpose=purpose
    )
    emit(template if as_json else _summary(template), as_json)


@templates.command("list")
@collaboration_option
@client_options
@client_command
def list_(
    collaboration_id: str, url: str | None, token: str | None, timeout: float, as_json: bool
) -> None:
    """Every template version of the collaboration with its status."""
    found = make_client(url, token, timeout).list_templates(collaboration_id)
    emit(found if as_json else [_summary(t) for t in found], as_json, COLUMNS)


def _decision_command(decision: Literal["approve", "reject", "revoke"], doc: str) -> None:
    @templates.command(decision, help=doc)
    @collaboration_option
    @click.argument("template_id")
    @click.option("--reason", help="Why (kept in the audit log).")
    @client_options
    @client_command
    def decide(
        collaboration_id: str,
        template_id: str,
        reason: str | None,
        url: str | None,
        token: str | None,
        timeout: float,
        as_json: bool,
    ) -> None:
        client = make_client(url, token, timeout)
        template = client.decide_template(collaboration_id, template_id, decision, reason)
        emit(template if as_json else _summary(template), as_json)


_decision_command(
    "approve",
    "Approve one template version (retailer admin, or a data owner for its CRM) so it can run.",
)
_decision_command("reject", "Reject a pending template version (retailer admin or a data owner).")
_decision_command("revoke", "Revoke an approved template version: no new runs of it.")
