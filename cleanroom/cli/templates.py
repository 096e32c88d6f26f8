"""``cleanroom templates submit|list|show|diff|approve|reject|revoke``: the template approval
workflow, and reading what a version says."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any, Literal

import click

from cleanroom.cli.output import emit
from cleanroom.cli.remote import (
    STDIO,
    client_command,
    client_options,
    collaboration_option,
    make_client,
    read_text_input,
)

COLUMNS = ["id", "name", "version", "org", "purpose", "status", "awaiting_approval"]


def _summary(template: dict[str, Any]) -> dict[str, Any]:
    return {c: template.get(c) for c in COLUMNS}


@click.group("templates")
def templates() -> None:
    """Submit templates (partners) and approve, reject or revoke them (retailer admin)."""


@templates.command("submit")
@collaboration_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--name", help="Template name when FILE has no header (default: FILE's stem).")
@click.option("--purpose", help="Purpose when FILE has no header (e.g. measurement).")
@client_options
@client_command
def submit(
    collaboration_id: str,
    file: str,
    name: str | None,
    purpose: str | None,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Submit the template in FILE.sql (``-``: standard input); it waits as ``pending`` for the
    retailer's approval."""
    sql = read_text_input(file, "FILE")
    if file == STDIO and name is None and not sql.lstrip().startswith("--"):
        raise click.UsageError("a template read from standard input without a header needs --name")
    client = make_client(url, token, timeout)
    template = client.submit_template(
        collaboration_id, sql, name=name or Path(file).stem, purpose=purpose
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


def _show_text(template: dict[str, Any]) -> str:
    analysis = template.get("analysis") or {}
    lines = [f"{key}: {template.get(key)}" for key in COLUMNS]
    params = ", ".join(
        f"{p.get('name')} {p.get('type')}" + (f" = {json.dumps(p['default'])}" if "default" in p
                                              else "")
        for p in template.get("parameters") or []
    )  # fmt: skip
    lines.append(f"parameters: {params or '(none)'}")
    for key in ("datasets", "outputs"):
        if key in analysis:
            lines.append(f"{key}: {', '.join(str(v) for v in analysis[key])}")
    lines += ["", str(template.get("sql") or "").rstrip()]
    return "\n".join(lines)


@templates.command("show")
@collaboration_option
@click.argument("template_id")
@client_options
@client_command
def show(
    collaboration_id: str, template_id: str, url: str | None, token: str | None,
    timeout: float, as_json: bool,
) -> None:  # fmt: skip
    """One template version: status, parameters, what it reads and releases, and its SQL."""
    template = make_client(url, token, timeout).get_template(collaboration_id, template_id)
    if as_json:
        emit(template, True)
        return
    click.echo(_show_text(template))


@templates.command("diff")
@collaboration_option
@click.argument("old_id")
@click.argument("new_id")
@client_options
@client_command
def diff(
    collaboration_id: str, old_id: str, new_id: str, url: str | None, token: str | None,
    timeout: float, as_json: bool,
) -> None:  # fmt: skip
    """A unified diff of two template versions' SQL (e.g. before approving a new version)."""
    client = make_client(url, token, timeout)
    old, new = (client.get_template(collaboration_id, i) for i in (old_id, new_id))
    lines = list(
        difflib.unified_diff(
            str(old.get("sql") or "").splitlines(),
            str(new.get("sql") or "").splitlines(),
            f"{old.get('name')} v{old.get('version')}",
            f"{new.get('name')} v{new.get('version')}",
            lineterm="",
        )
    )
    if as_json:
        emit({"old": old_id, "new": new_id, "diff": lines}, True)
        return
    click.echo("\n".join(lines) if lines else "(the SQL is the same)")


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
