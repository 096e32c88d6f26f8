"""The command reference of docs/cli.md, generated from the commands themselves (a test keeps
the page equal to it): ``python -m cleanroom.cli.reference`` prints it."""

from __future__ import annotations

import inspect

import click

from cleanroom.cli.main import cli

HEADING = "## Reference"


def leaf_commands(group: click.Group, prefix: str = "cleanroom") -> dict[str, click.Command]:
    """Every runnable command under ``group`` by its full path, sorted."""
    ctx = click.Context(group)
    out: dict[str, click.Command] = {}
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None:
            continue
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            out.update(leaf_commands(command, path))
        else:
            out[path] = command
    return dict(sorted(out.items()))


def _usage(path: str, command: click.Command) -> str:
    ctx = click.Context(command, info_name=path)
    return " ".join(command.collect_usage_pieces(ctx))


def reference_markdown() -> str:
    """The reference section: one heading per command, its help, usage line and options."""
    parts = [HEADING, ""]
    for path, command in leaf_commands(cli).items():
        parts += [f"### `{path}`", "", inspect.cleandoc(command.help or ""), ""]
        parts += ["```text", f"{path} {_usage(path, command)}".rstrip(), "```", ""]
        options = [p for p in command.params if isinstance(p, click.Option) and not p.hidden]
        for option in options:
            names = ", ".join(f"`{o}`" for o in sorted(option.opts, key=len))
            parts.append(f"- {names}: {option.help or ''}".rstrip())
        if options:
            parts.append("")
    return "\n".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    click.echo(reference_markdown(), nl=False)
