"""``cleanroom validate --spec SPEC.json FILE.sql [--json]`` (docs/specs.md).

Exit 0 with a summary when accepted, 1 with one ``code line:column message`` line per violation
when rejected, 2 when the spec file is unusable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import click

from cleanroom.errors import CleanroomError, TemplateRejected
from cleanroom.services.validation import load_collaboration_spec, validate_template_file


@click.command("validate")
@click.option(
    "--spec",
    "spec_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Collaboration spec JSON: policy, datasets, template defaults.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def validate(spec_path: Path, file: Path, as_json: bool) -> None:
    """Check a template file offline against a collaboration spec."""
    try:
        spec = load_collaboration_spec(json.loads(spec_path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        _fail_spec(f"cannot read spec file: {type(err).__name__}", as_json)
    except CleanroomError as err:
        _fail_spec(err.detail, as_json)
    text = file.read_text(encoding="utf-8")
    try:
        analysis = validate_template_file(text, spec)
    except TemplateRejected as rejected:
        if as_json:
            click.echo(
                json.dumps({"ok": False, "errors": [v.to_dict() for v in rejected.violations]})
            )
        else:
            for v in rejected.violations:
                click.echo(f"{v.code} {v.line}:{v.column} {v.message}")
        raise SystemExit(1) from None
    if as_json:
        click.echo(json.dumps({"ok": True, "analysis": analysis.to_dict()}))
        return
    click.echo(f"ok: {file.name} is accepted (purpose {analysis.purpose})")
    click.echo(f"datasets: {', '.join(analysis.datasets)}")
    click.echo(f"outputs: {', '.join(analysis.outputs)}")
    keys = ", ".join(k["name"] for k in analysis.group_keys) or "(one group)"
    click.echo(f"group keys: {keys}")
    click.echo(f"pin: {analysis.pin}")


def _fail_spec(message: str, as_json: bool) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"ok": False, "spec_error": message}))
    else:
        click.echo(f"bad spec: {message}", err=True)
    raise SystemExit(2)
