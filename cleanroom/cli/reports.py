"""``cleanroom report get``: download a run's report as JSON, CSV or Parquet, or show it;
``cleanroom report explain``: how each released number was made, in words."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import click

from cleanroom.cli.output import cell_text, emit, format_table
from cleanroom.cli.remote import (
    client_command,
    client_options,
    collaboration_option,
    make_client,
    write_output,
)
from cleanroom.client import REPORT_FORMATS
from cleanroom.lift_view import lift_lines
from cleanroom.services.reports import report_explanations, report_layout


def report_text(report: dict[str, Any]) -> str:
    """The released rows with every non-key cell's 95% half-width, for a terminal."""
    accuracy = report.get("accuracy") or {}
    half = accuracy.get("half_widths") or {}
    columns = list(report.get("columns") or [])
    released = report.get("rows") or []
    per_row = accuracy.get("row_half_widths") or [{} for _ in released]
    rows = [
        {c: cell_text(r.get(c)) + _plus_minus(c, cells, half) for c in columns}
        for r, cells in zip(released, per_row, strict=False)
    ]
    template = report.get("template") or {}
    loss = report.get("privacy_loss") or {}
    head = (
        f"report {report.get('run_id')}: {template.get('name')} v{template.get('version')}, "
        f"epsilon={loss.get('epsilon')} delta={loss.get('delta')}"
    )
    body = format_table(rows, columns) if rows else "(no rows released)"
    note = (
        "(± is the 95% interval half-width of the DP noise, not of sampling error or clamping; "
        "money is in cents; ±? means no finite interval)"
    )
    text = f"{head}\n{body}\n{note}" + _opt_in_text(report.get("opt_in"))
    lift = report.get("lift")
    if not lift:
        return text
    lines = "\n".join("  " + line for line in lift_lines(lift))
    lift_note = (
        f"(lift of cell {lift.get('test')} over {lift.get('holdout')}: 95% intervals of DP noise "
        "and sampling error; significant when the interval excludes 0)"
    )
    return f"{text}\n\nholdout lift per campaign:\n{lines}\n{lift_note}"


def _opt_in_text(opt_in: dict[str, Any] | None) -> str:
    """A consent analysis's opt-in rate (the report's ``opt_in`` member), one line per group."""
    if not opt_in:
        return ""
    lines = []
    for g in opt_in.get("groups") or []:
        group = ", ".join(f"{k}={v}" for k, v in (g.get("group") or {}).items()) or "all"
        rate, bounds = g.get("rate"), g.get("interval")
        shown = "-" if rate is None else f"{rate:.1%}"
        if bounds is not None:
            shown += f" [{bounds[0]:.1%}, {bounds[1]:.1%}]"
        lines.append(f"  {group}: {shown}")
    return (
        f"\n\nopt-in rate of {opt_in.get('dataset')} for {opt_in.get('purpose')}:\n"
        + "\n".join(lines)
        + "\n(consented / (consented + not consented); 95% interval of the DP noise)"
    )


def _plus_minus(column: str, cells: dict[str, Any], half: dict[str, Any]) -> str:
    if column in cells:
        width = cells[column]
        return " ±?" if width is None else f" ±{width:.4g}"
    return f" ±{half[column]:.4g}" if column in half else ""


@click.group("report")
def report() -> None:
    """Run reports."""


@report.command("get")
@collaboration_option
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS),
              help="File format (default: json with -o, else a table).")  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the report to this file (- is standard output).")  # fmt: skip
@client_options
@client_command
def get(
    collaboration_id: str,
    run_id: str,
    fmt: str | None,
    output: str | None,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Download the report of a succeeded run (409 until it succeeded)."""
    client = make_client(url, token, timeout)
    if output is not None or fmt in ("csv", "parquet"):
        chosen = fmt or "json"
        body = client.download_report(collaboration_id, run_id, chosen)  # type: ignore[arg-type]
        if output is None:
            if chosen == "parquet":
                raise click.UsageError("--format parquet needs -o FILE")
            click.echo(body.decode("utf-8"), nl=False)
            return
        write_output(output, body)
        return
    document = client.get_report(collaboration_id, run_id)
    if as_json or fmt == "json":
        click.echo(json.dumps(document, indent=2, sort_keys=True))
        return
    emit(report_text(document), False)


def explain_text(report: dict[str, Any]) -> str:
    """Per output and per flagged cell, how the report's numbers were made, in plain English."""
    explained = report_explanations(report)
    template = report.get("template") or {}
    head = f"report {report.get('run_id')}: {template.get('name')} v{template.get('version')}"
    if not explained.available:
        return f"{head}\n(this report was made before explanations were recorded)"
    lines = [head, "", "Rows:", _indent(explained.release), "", "Outputs:"]
    for output in explained.outputs:
        lines.append(f"  {output.column} ({output.kind.replace('_', ' ')}):")
        lines.append(_indent(output.text, 4))
        for measurement, text in output.inputs:
            lines.append(f"    input {measurement}:")
            lines.append(_indent(text, 6))
    lines += ["", "Flagged cells:"]
    if not explained.cells:
        lines.append("  (none: every cell is explained by its output's text above)")
    keys = report_layout(report).key_columns
    rows = report.get("rows") or []
    for (index, column), notes in sorted(explained.cells.items()):
        row = rows[index] if index < len(rows) else {}
        where = ", ".join(f"{k}={cell_text(row.get(k))}" for k in keys) or "the only row"
        lines.append(f"  row {index + 1} ({where}), {column} = {cell_text(row.get(column))}:")
        lines.extend(_indent(f"- {note}", 4) for note in notes)
    return "\n".join(lines)


def _indent(text: str, by: int = 2) -> str:
    return textwrap.fill(text, width=100, initial_indent=" " * by, subsequent_indent=" " * by)


@report.command("explain")
@collaboration_option
@click.argument("run_id")
@client_options
@client_command
def explain(
    collaboration_id: str,
    run_id: str,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Explain a succeeded run's report: per output, the mechanism, noise scale, share of the
    loss and per-person bounds; per flagged cell, what post-processing did to it."""  # fmt: skip
    document = make_client(url, token, timeout).get_report(collaboration_id, run_id)
    if as_json:
        click.echo(json.dumps(document.get("explanations") or {}, indent=2, sort_keys=True))
        return
    emit(explain_text(document), False)
