"""``cleanroom kpis campaign|governance|run``: a campaign's KPIs as released, and the governance
KPIs (opt-in rates, suppression matches, rows a run's filters removed) of your own org's data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from cleanroom.cli.output import cell_text, emit, format_table
from cleanroom.cli.remote import (
    client_command,
    client_options,
    collaboration_option,
    make_client,
)

OPT_IN_COLUMNS = ["dataset", "version", "purpose", "rows", "rows_opted_in", "row_rate",
                  "people", "people_opted_in", "people_rate"]  # fmt: skip
MATCH_COLUMNS = ["dataset", "version", "people", "suppressed_people", "suppressed_rows"]
FILTER_COLUMNS = ["dataset", "version", "rows", "consent_column", "rows_removed_by_consent",
                  "rows_removed_by_suppression"]  # fmt: skip


@click.group("kpis")
def kpis() -> None:
    """Campaign KPIs with intervals, and governance KPIs of your own org's data."""


def _interval(cell: Mapping[str, Any]) -> str:
    if "interval" not in cell:
        return ""
    bounds = cell["interval"]
    if bounds is None:
        return "not estimable"
    return f"[{cell_text(bounds[0])}, {cell_text(bounds[1])}]"


def _value_rows(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"output": name, "value": cell.get("value"), "95% interval": _interval(cell)}
        for name, cell in values.items()
    ]


def _section(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    click.echo(f"\n{title}")
    click.echo(format_table(rows, columns) if rows else "(none)")


def _governance(found: Mapping[str, Any]) -> None:
    _section(f"opt-in rates (exact, {found.get('org')}'s own datasets)",
             list(found.get("opt_in") or []), OPT_IN_COLUMNS)  # fmt: skip
    suppression = found.get("suppression")
    if suppression is not None:
        _section(f"suppression list ({suppression.get('listed')} people): matches per dataset",
                 list(suppression.get("datasets") or []), MATCH_COLUMNS)  # fmt: skip
    if "run_filters" in found:
        _section("rows the run's filters removed (your own datasets)",
                 list(found.get("run_filters") or []), FILTER_COLUMNS)  # fmt: skip


@kpis.command("campaign")
@collaboration_option
@click.argument("campaign_id")
@client_options
@client_command
def campaign(
    collaboration_id: str,
    campaign_id: str,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """The kpis report of CAMPAIGN_ID: its row of the latest campaign_kpis report (values and
    95% intervals), the latest match_rate and opt_in_rate reports and your org's governance
    KPIs."""
    found = make_client(url, token, timeout).campaign_kpis(collaboration_id, campaign_id)
    if as_json:
        emit(found, True)
        return
    source = (found.get("campaign") or {}).get("source") or {}
    click.echo(f"campaign {found.get('campaign_id')}: campaign_kpis run {source.get('run_id')} "
               f"of {source.get('org')}")  # fmt: skip
    click.echo(format_table(_value_rows((found.get("campaign") or {}).get("values") or {}),
                            ["output", "value", "95% interval"]))  # fmt: skip
    match = found.get("match_rate")
    if match is not None:
        rows = [
            {name: f"{cell_text(c.get('value'))} {_interval(c)}".strip() for name, c in r.items()}
            for r in match.get("rows") or []
        ]
        _section(f"match rate (run {(match.get('source') or {}).get('run_id')})", rows,
                 list(rows[0]) if rows else [])  # fmt: skip
    opt_in = found.get("opt_in_rate")
    if opt_in is not None:
        member = opt_in.get("opt_in") or {}
        rows = [
            {"rate": cell_text(g.get("rate")),
             "95% interval": _interval({"interval": g.get("interval")})}
            for g in member.get("groups") or []
        ]  # fmt: skip
        _section(f"opt-in rate, {member.get('dataset')} for {member.get('purpose')} "
                 f"(run {(opt_in.get('source') or {}).get('run_id')}, differentially private)",
                 rows, ["rate", "95% interval"])  # fmt: skip
    _governance(found.get("governance") or {})


@kpis.command("governance")
@collaboration_option
@client_options
@client_command
def governance(
    collaboration_id: str, url: str | None, token: str | None, timeout: float, as_json: bool
) -> None:
    """Opt-in rate per dataset and purpose of your org's own datasets, and (retailer admin)
    how many suppressed people each of the retailer's datasets holds. Exact; own data only."""
    found = make_client(url, token, timeout).governance_kpis(collaboration_id)
    if as_json:
        emit(found, True)
        return
    _governance(found)


@kpis.command("run")
@collaboration_option
@click.argument("run_id")
@client_options
@client_command
def run_filters(
    collaboration_id: str,
    run_id: str,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Rows RUN_ID's consent filter (and, retailer admin, the suppression list) removed from
    each dataset it read that your org owns."""
    found = make_client(url, token, timeout).run_filter_kpis(collaboration_id, run_id)
    if as_json:
        emit(found, True)
        return
    click.echo(f"run {found.get('run_id')} (purpose {found.get('purpose')})")
    click.echo(format_table(list(found.get("datasets") or []), FILTER_COLUMNS)
               if found.get("datasets") else "(none of your datasets)")  # fmt: skip
