"""The `cleanroom` command.

Subcommands are imported when they are used, not when ``cleanroom`` starts: ``cleanroom --help``
and shell completion read the one-line summaries below without importing the server stack
(tests check each summary against its command's own help).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from cleanroom import __version__

# name -> (module, attribute, the command's one-line summary)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("cleanroom.cli.serve", "serve", "Serve the HTTP API."),
    "token": ("cleanroom.cli.token", "token",
              "Print a signed bearer token (development and tests)."),
    "whoami": ("cleanroom.cli.whoami", "whoami",
               "The subject, org and role of your token (checks the server accepts it)."),
    "validate": ("cleanroom.cli.validate", "validate",
                 "Check a template file offline against a collaboration spec."),
    "init-db": ("cleanroom.cli.database", "init_db",
                "Create or upgrade the metadata store's schema to the newest migration."),
    "purge-expired": (
        "cleanroom.cli.database", "purge_expired",
        "Delete the files of dataset versions past their retention and mark them purged.",
    ),
    "worker": ("cleanroom.cli.worker", "worker",
               "Claim queued runs from the store and execute them until stopped (SIGTERM or..."),
    "hash": ("cleanroom.cli.hashing", "hash_file",
             "Write OUT.csv: IN.csv with the identifier column replaced by its normalized..."),
    "collaborations": ("cleanroom.cli.collaborations", "collaborations",
                       "Open, read and evolve collaborations (changes: retailer admin)."),
    "datasets": ("cleanroom.cli.datasets", "datasets",
                 "Register, read and purge a collaboration's datasets; draft a spec."),
    "suppressions": (
        "cleanroom.cli.suppressions", "suppressions",
        "Opted-out hashed identifiers a collaboration must never use (retailer admin).",
    ),
    "templates": (
        "cleanroom.cli.templates", "templates",
        "Submit templates (partners) and approve, reject or revoke them (retailer admin).",
    ),
    "run": ("cleanroom.cli.runs", "run",
            "Run an approved template (its privacy loss is charged when the run is queued)."),
    "runs": ("cleanroom.cli.runs", "runs",
             "List, inspect and cancel runs (your org's; the retailer admin sees every..."),
    "report": ("cleanroom.cli.reports", "report", "Run reports."),
    "kpis": ("cleanroom.cli.kpis", "kpis",
             "Campaign KPIs with intervals, and governance KPIs of your own org's data."),
    "budget": ("cleanroom.cli.budget_audit", "budget",
               "Privacy budget per partner org (as budget show); budget raise raises one."),
    "audit": ("cleanroom.cli.budget_audit", "audit",
              "The audit log, or with --verify whether its hash chain is intact (exit 1 if..."),
    "demo": ("cleanroom.cli.demo", "demo",
             "Run every shipped template end to end on a synthetic retailer and advertiser,..."),
}  # fmt: skip


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


EPILOG = (
    "Exit statuses: 0 ok, 1 negative outcome, 2 usage, 3 not found, 4 refused, 5 bad parameter, "
    "6 server error, 7 timed out (docs/cli.md). Shell completion: "
    'eval "$(_CLEANROOM_COMPLETE=bash_source cleanroom)" (zsh_source, fish_source).'
)


@click.group(cls=LazyGroup, epilog=EPILOG)
@click.version_option(__version__, prog_name="cleanroom")
def cli() -> None:
    """cleanroom: a data clean room for retail media."""


def main(*args: Any) -> None:
    cli(*args)
