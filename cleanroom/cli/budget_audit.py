"""``cleanroom budget`` and ``cleanroom audit``: a collaboration's privacy budget and its
hash-chained audit log."""

from __future__ import annotations

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


def _budget_row(line: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"org": line.get("org")}
    for part in ("total", "spent", "remaining"):
        value = line.get(part) or {}
        row[f"{part}_epsilon"] = value.get("epsilon")
        row[f"{part}_delta"] = value.get("delta")
    return row


def _show_budget(
    collaboration_id: str, url: str | None, token: str | None, timeout: float, as_json: bool
) -> None:
    lines = make_client(url, token, timeout).budget(collaboration_id)
    emit(lines if as_json else [_budget_row(line) for line in lines], as_json)


@click.group("budget", invoke_without_command=True)
@click.option("--collaboration", "collaboration_id", help="The collaboration id (same as show).")
@client_options
@click.pass_context
@client_command
def budget(
    ctx: click.Context,
    collaboration_id: str | None,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Privacy budget per partner org (as budget show); budget raise raises one."""
    if ctx.invoked_subcommand is not None:
        return
    if collaboration_id is None:
        raise click.UsageError("give --collaboration, or a subcommand (show, raise)")
    _show_budget(collaboration_id, url, token, timeout, as_json)


@budget.command("show")
@collaboration_option
@client_options
@client_command
def show_budget(
    collaboration_id: str, url: str | None, token: str | None, timeout: float, as_json: bool
) -> None:
    """Privacy budget per partner org: total, spent and remaining epsilon and delta."""
    _show_budget(collaboration_id, url, token, timeout, as_json)


@budget.command("raise")
@collaboration_option
@click.option("--org", required=True, help="The partner org whose budget grows.")
@click.option("--add-epsilon", type=click.FloatRange(min=0), help="Top up epsilon by this much.")
@click.option("--add-delta", type=click.FloatRange(min=0), help="Top up delta by this much.")
@click.option("--to-epsilon", type=click.FloatRange(min=0), help="Raise epsilon's total to this.")
@click.option("--to-delta", type=click.FloatRange(min=0), help="Raise delta's total to this.")
@click.option("--reason", help="Why (kept in the audit log).")
@client_options
@client_command
def raise_budget(
    collaboration_id: str,
    org: str,
    add_epsilon: float | None,
    add_delta: float | None,
    to_epsilon: float | None,
    to_delta: float | None,
    reason: str | None,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Raise or top up one partner's budget (retailer admin); prints the warning that a larger
    budget weakens the guarantee already given."""
    add = {k: v for k, v in (("epsilon", add_epsilon), ("delta", add_delta)) if v is not None}
    total = {k: v for k, v in (("epsilon", to_epsilon), ("delta", to_delta)) if v is not None}
    if bool(add) == bool(total):
        raise click.UsageError("give --add-epsilon/--add-delta or --to-epsilon/--to-delta")
    raised = make_client(url, token, timeout).raise_budget(
        collaboration_id, org, add=add or None, total=total or None, reason=reason
    )
    if as_json:
        emit(raised, True)
    else:
        emit([_budget_row(raised.get("budget") or {})], False)
    click.echo(f"warning: {raised.get('warning')}", err=True)


@click.command("audit")
@collaboration_option
@click.option("--verify", is_flag=True, help="Recompute the hash chain on the server.")
@client_options
@client_command
def audit(
    collaboration_id: str,
    verify: bool,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """The audit log, or with --verify whether its hash chain is intact (exit 1 if broken)."""
    client = make_client(url, token, timeout)
    if verify:
        result = client.audit_verify(collaboration_id)
        if as_json:
            emit(result, True)
        elif result.get("ok"):
            click.echo(f"audit chain ok: {result.get('events')} events")
        if not result.get("ok"):
            broken = result.get("first_broken_seq")
            fail(f"audit_broken: the hash chain breaks at event {broken}")
        return
    events = client.audit(collaboration_id)
    columns = ["seq", "created_at", "name", "org", "actor", "details"]
    emit(events, as_json, columns)
