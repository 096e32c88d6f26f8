"""``cleanroom collaborations create|list|show|update|add-partner|remove-partner``: open, read and
evolve collaborations on a server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cleanroom.cli.output import emit
from cleanroom.cli.remote import (
    client_command,
    client_options,
    collaboration_option,
    make_client,
    read_json_file,
)
from cleanroom.client.api import KEEP, Keep

COLUMNS = ["id", "name", "retailer_org", "partner_orgs", "status", "created_at"]
DETAIL = [
    "id", "name", "status", "retailer_org", "partner_orgs", "former_partner_orgs", "starts_at",
    "ends_at", "revision", "policy", "created_at", "created_by",
]  # fmt: skip


@click.group("collaborations")
def collaborations() -> None:
    """Open, read and evolve collaborations (changes: retailer admin)."""


@collaborations.command("create")
@click.option("--name", required=True, help="The collaboration's name.")
@click.option(
    "--partner", "partners", required=True, multiple=True, help="A partner org (repeatable)."
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    help="Collaboration policy JSON (docs/specs.md; - reads standard input); default: the "
    "server's default policy.",
)
@client_options
@client_command
def create(
    name: str,
    partners: tuple[str, ...],
    policy_path: str | None,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Open a collaboration between your org and the partner orgs."""
    policy = read_json_file(policy_path, "--policy") if policy_path else None
    collab = make_client(url, token, timeout).create_collaboration(name, partners, policy)
    emit(collab, as_json, None if as_json else [*COLUMNS, "policy"])


@collaborations.command("list")
@client_options
@client_command
def list_(url: str | None, token: str | None, timeout: float, as_json: bool) -> None:
    """The collaborations your org is a member of."""
    emit(make_client(url, token, timeout).list_collaborations(), as_json, COLUMNS)


@collaborations.command("show")
@collaboration_option
@client_options
@client_command
def show(
    collaboration_id: str, url: str | None, token: str | None, timeout: float, as_json: bool
) -> None:
    """One collaboration: its status, dates, members and policy."""
    collab = make_client(url, token, timeout).get_collaboration(collaboration_id)
    emit(collab, as_json, None if as_json else DETAIL)


def _setting(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE as JSON (``50``, ``null``, ``["measurement"]``) or a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"expected KEY=VALUE, got {text!r}", param_hint="--set")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def _date(value: str | None) -> str | Keep | None:
    if value is None:
        return KEEP
    return None if value.lower() == "none" else value


@collaborations.command("update")
@collaboration_option
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="A policy field to change, VALUE as JSON (repeatable), e.g. min_users_per_row=100.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file of policy fields to change.",
)
@click.option("--starts-at", help='Start date: ISO-8601 with a time zone, "now" or "none".')
@click.option("--ends-at", help='End date: ISO-8601 with a time zone, "now" (end it) or "none".')
@click.option(
    "--allow-loosening", is_flag=True, help="Confirm a change that loosens the terms (audited)."
)
@click.option("--reason", help="Why (kept in the audit log).")
@client_options
@client_command
def update(
    collaboration_id: str,
    settings: tuple[str, ...],
    policy_path: Path | None,
    starts_at: str | None,
    ends_at: str | None,
    allow_loosening: bool,
    reason: str | None,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Amend the policy and dates: tightening is free, loosening needs --allow-loosening."""
    policy = dict(read_json_file(policy_path, "--policy")) if policy_path else {}
    policy.update(_setting(s) for s in settings)
    done = make_client(url, token, timeout).update_collaboration(
        collaboration_id,
        policy=policy,
        starts_at=_date(starts_at),
        ends_at=_date(ends_at),
        allow_loosening=allow_loosening,
        reason=reason,
    )
    if as_json:
        emit(done, True)
        return
    changes = done.get("changes") or []
    if changes:
        emit(changes, False, ["field", "from", "to", "effect"])
    else:
        click.echo("nothing changed")
    for warning in done.get("warnings") or []:
        click.echo(f"warning: {warning}", err=True)


@collaborations.command("add-partner")
@collaboration_option
@click.option("--org", required=True, help="The partner org to add.")
@click.option("--epsilon", type=float, help="Its own epsilon budget (default: the policy's).")
@click.option("--delta", type=float, help="Its own delta budget (default: the policy's).")
@click.option("--reason", help="Why (kept in the audit log).")
@client_options
@client_command
def add_partner(
    collaboration_id: str,
    org: str,
    epsilon: float | None,
    delta: float | None,
    reason: str | None,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Add a partner org, with a budget line of its own."""
    budget = {k: v for k, v in (("epsilon", epsilon), ("delta", delta)) if v is not None}
    added = make_client(url, token, timeout).add_partner(
        collaboration_id, org, budget=budget or None, reason=reason
    )
    emit(added if as_json else {"org": org, **added.get("budget", {})}, as_json)


@collaborations.command("remove-partner")
@collaboration_option
@click.option("--org", required=True, help="The partner org whose membership ends.")
@click.option("--purge-data", is_flag=True, help="Also purge every version of its datasets.")
@click.option("--reason", help="Why (kept in the audit log).")
@client_options
@client_command
def remove_partner(
    collaboration_id: str,
    org: str,
    purge_data: bool,
    reason: str | None,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """End a partner's membership: its runs are refused from now on (it can still read)."""
    ended = make_client(url, token, timeout).remove_partner(
        collaboration_id, org, purge_data=purge_data, reason=reason
    )
    if as_json:
        emit(ended, True)
        return
    emit(ended.get("membership", {}), False)
    for purged in ended.get("purged_datasets") or []:
        click.echo(f"purged {purged.get('name')}: {purged.get('purged_versions')} version(s)")
