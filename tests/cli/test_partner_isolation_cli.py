"""Every client command as the other partner: the CLI calls the routes, so it shows only what the
visibility table allows. ``beta``'s advertiser and viewer run every command that talks to the
server with ``acme``'s ids; each either answers or fails, and neither its output nor its error
holds anything of ``acme``'s. A new command without a row in ``COMMANDS`` (or in ``LOCAL``) fails
the test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from cleanroom.cli.main import cli
from cleanroom.config import Settings
from tests.cli.cli_world import TEMPLATE
from tests.cli.cli_world import write_inputs as _inputs
from tests.cli.test_client_commands import Cli, _as, server_url

__all__ = ["server_url"]  # the live server fixture, shared with the other client tests

# Commands that never read a collaboration from the server (local tools and the server itself).
LOCAL = {
    "serve", "token", "validate", "init-db", "purge-expired", "worker", "hash", "demo",
    "datasets init-spec",
}  # fmt: skip
A_NAME, A_EPSILON = "zeta_cli_reach", "1.2345678"
A_TEMPLATE = TEMPLATE.replace("reach_by_campaign", A_NAME).replace(
    "AS reach", "AS zeta_cli_reach_4471"
)
Ids = dict[str, str]
# command path -> its arguments (with acme's ids) for the other partner
COMMANDS: dict[str, Callable[[Ids], list[str]]] = {
    "collaborations create": lambda i: ["--name", "x", "--partner", "gamma"],
    "collaborations list": lambda i: [],
    "collaborations show": lambda i: ["--collaboration", i["cid"]],
    "collaborations update": lambda i: ["--collaboration", i["cid"], "--set",
                                        "min_users_per_row=20"],
    "collaborations add-partner": lambda i: ["--collaboration", i["cid"], "--org", "gamma"],
    "collaborations remove-partner": lambda i: ["--collaboration", i["cid"], "--org", "acme"],
    "datasets add": lambda i: ["--collaboration", i["cid"], "--spec", i["spec"], i["data"]],
    "datasets list": lambda i: ["--collaboration", i["cid"]],
    "datasets show": lambda i: ["--collaboration", i["cid"], i["did"]],
    "datasets delete": lambda i: ["--collaboration", i["cid"], i["did"], "--yes"],
    "suppressions add": lambda i: ["--collaboration", i["cid"], i["data"]],
    "suppressions remove": lambda i: ["--collaboration", i["cid"], i["data"]],
    "suppressions count": lambda i: ["--collaboration", i["cid"]],
    "suppressions list": lambda i: ["--collaboration", i["cid"]],
    "templates submit": lambda i: ["--collaboration", i["cid"], i["template"]],
    "templates list": lambda i: ["--collaboration", i["cid"]],
    "templates show": lambda i: ["--collaboration", i["cid"], i["tid"]],
    "templates diff": lambda i: ["--collaboration", i["cid"], i["tid"], i["tid"]],
    "templates approve": lambda i: ["--collaboration", i["cid"], i["tid"]],
    "templates reject": lambda i: ["--collaboration", i["cid"], i["tid"]],
    "templates revoke": lambda i: ["--collaboration", i["cid"], i["tid"]],
    "run": lambda i: ["--collaboration", i["cid"], "--template", i["tid"], "--epsilon", "0.5",
                      "--preview"],
    "run --param": lambda i: ["--collaboration", i["cid"], "--template", i["tid"], "--param",
                              "campaign_ids=c1,c2", "--preview"],
    "runs list": lambda i: ["--collaboration", i["cid"]],
    "runs get": lambda i: ["--collaboration", i["cid"], i["rid"]],
    "runs cancel": lambda i: ["--collaboration", i["cid"], i["rid"]],
    "whoami": lambda i: [],
    "report get": lambda i: ["--collaboration", i["cid"], i["rid"], "-o", i["out"]],
    "report explain": lambda i: ["--collaboration", i["cid"], i["rid"]],
    "kpis campaign": lambda i: ["--collaboration", i["cid"], "c1"],
    "kpis governance": lambda i: ["--collaboration", i["cid"]],
    "kpis run": lambda i: ["--collaboration", i["cid"], i["rid"]],
    "budget show": lambda i: ["--collaboration", i["cid"]],
    "budget raise": lambda i: ["--collaboration", i["cid"], "--org", "acme",
                               "--add-epsilon", "1"],
    "audit": lambda i: ["--collaboration", i["cid"]],
    "audit --verify": lambda i: ["--collaboration", i["cid"], "--verify"],
}  # fmt: skip


def _leaf_commands(group: click.Group, prefix: str = "") -> set[str]:
    found: set[str] = set()
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found |= _leaf_commands(command, f"{path} ")
        else:
            found.add(path)
    return found


def test_every_client_command_has_an_isolation_row() -> None:
    covered = {c.removesuffix(" --verify").removesuffix(" --param") for c in COMMANDS}
    assert _leaf_commands(cli) == covered | LOCAL


def test_the_other_partner_sees_nothing_of_acme_through_the_cli(
    server_url: str, cli_settings: Settings, inputs: Path, tmp_path: Path
) -> None:
    paths = _inputs(inputs)
    admin = _as(cli_settings, server_url, "shopco", "retailer_admin")
    acme = _as(cli_settings, server_url, "acme", "advertiser")
    cid = admin.json("collaborations", "create", "--name", "q", "--partner", "acme",
                     "--partner", "beta", "--policy", str(paths["policy"]))["id"]  # fmt: skip
    admin("datasets", "add", "--collaboration", cid, "--spec", str(paths["spec"]),
          str(paths["data"]))  # fmt: skip
    a_file = tmp_path / f"{A_NAME}.sql"
    a_file.write_text(A_TEMPLATE, encoding="utf-8")
    tid = acme.json("templates", "submit", "--collaboration", cid, str(a_file))["id"]
    admin("templates", "approve", "--collaboration", cid, tid)
    ran = acme.json("run", "--collaboration", cid, "--template", tid, "--epsilon", A_EPSILON,
                    "--wait")  # fmt: skip
    assert ran["status"] == "succeeded"
    (dataset,) = admin.json("datasets", "list", "--collaboration", cid)
    ids = {
        "cid": cid, "tid": tid, "did": dataset["id"], "rid": ran["id"], "spec": str(paths["spec"]),
        "data": str(paths["data"]), "template": str(paths["template"]),
        "out": str(tmp_path / "report.json"),
    }  # fmt: skip
    secrets = [A_NAME, "zeta_cli_reach_4471", A_EPSILON, tid, ran["id"], "advertiser@acme"]
    assert all(s in acme("audit", "--collaboration", cid, "--json").stdout for s in secrets[2:4])
    for role in ("advertiser", "partner_viewer"):
        beta: Cli = _as(cli_settings, server_url, "beta", role)
        for command, arguments in COMMANDS.items():
            words = command.removesuffix(" --verify").removesuffix(" --param").split()
            for extra in ([], ["--json"]):
                result = beta(*words, *arguments(ids), *extra, ok=False)
                shown = result.output + (result.stderr if result.stderr_bytes else "")
                leaked = [s for s in secrets if s in shown]
                assert not leaked, (role, command, extra, leaked, shown)
                assert result.exit_code in (0, 3, 4), (role, command, shown)
        assert not (tmp_path / "report.json").exists()
