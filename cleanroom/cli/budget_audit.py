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


@click.command("budget")
@collaboration_option
@client_options
@client_command
def budget(
    collaboration_id: str, url: str | None, token: str | None, timeout: float, as_json: bool
) -> None:
    """Privacy budget per partner org: total, spent and remaining epsilon and delta."""
    lines = make_client(url, token, timeout).budget(collaboration_id)
    emit(lines if as_json else [_budget_row(line) for line in lines], as_json)


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
