"""The docs cannot rot: links resolve, every setting, command and error code is documented, CLI
examples name real commands and options, curl examples name real routes with valid JSON bodies,
and Python examples run."""

from __future__ import annotations

import itertools
import json
import re
import shlex
from pathlib import Path

import click
import pytest
from flask import Flask
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import MapAdapter

from cleanroom import errors
from cleanroom.cli.main import cli
from cleanroom.cli.reference import HEADING, reference_markdown
from cleanroom.config import SETTINGS, load_settings
from cleanroom.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _anchors(markdown: str) -> set[str]:
    slugs = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


def _blocks(kinds: tuple[str, ...]) -> list[tuple[Path, str]]:
    found = []
    for doc in DOCS:
        for kind, body in FENCE.findall(doc.read_text(encoding="utf-8")):
            if kind in kinds:
                found.append((doc, body))
    return found


def _commands(body: str) -> list[str]:
    """Shell commands of a block, continuation lines joined, comments and output dropped."""
    joined = re.sub(r"\\\n\s*", " ", body)
    lines: list[str] = []
    pending = ""
    for raw in joined.splitlines():
        line = f"{pending} {raw.strip()}" if pending else raw.strip()
        if line.startswith("$ "):
            line = line[2:]
        if not line or line.startswith("#"):
            continue
        try:
            shlex.split(line)
        except ValueError:  # a quoted argument (e.g. a JSON body) goes on over the next line
            pending = line
            continue
        pending = ""
        lines.append(line)
    assert not pending, f"unterminated quote in a docs example: {pending}"
    return lines


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_relative_links_resolve(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        assert resolved.exists(), f"{doc.name}: dead link {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved.read_text(encoding="utf-8")), (
                f"{doc.name}: no heading #{anchor} in {resolved.name}"
            )


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"`CLEANROOM_{setting.name.upper()}`" in text, setting.name


def _subcommands(group: click.Group) -> dict[str, click.Command]:
    ctx = click.Context(group)
    found = {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
    return {name: command for name, command in found.items() if command is not None}


def _all_commands(group: click.Group, prefix: str = "cleanroom") -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name, command in _subcommands(group).items():
        path = f"{prefix} {name}"
        out[path] = command
        if isinstance(command, click.Group):
            out.update(_all_commands(command, path))
    return out


def test_every_cli_command_is_documented() -> None:
    text = "\n".join(d.read_text(encoding="utf-8") for d in DOCS)
    for path in _all_commands(cli):
        assert path in text or path.replace("cleanroom ", "`") in text, f"undocumented: {path}"


def test_every_error_code_is_documented() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, errors.CleanroomError):
            assert f"`{value.code}`" in text, value.code


def _resolve(tokens: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = cli
    rest = tokens[1:]
    while isinstance(command, click.Group) and rest and rest[0] in _subcommands(command):
        command = _subcommands(command)[rest[0]]
        rest = rest[1:]
    return command, rest


def test_cli_examples_use_real_commands_and_options() -> None:
    checked = 0
    for doc, body in _blocks(("console", "sh", "bash", "shell")):
        for line in _commands(body):
            tokens = shlex.split(line.split(" # ")[0].replace("$(", "").replace(")", ""))
            starts = [i for i, t in enumerate(tokens) if t.endswith("cleanroom")]
            if not starts or tokens[0] in ("docker", "curl", "export", "d=$"):
                continue
            command, rest = _resolve(tokens[starts[0] :])
            assert not isinstance(command, click.Group), f"{doc.name}: incomplete command {line}"
            options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
            for token in rest:
                if token.startswith("--"):
                    assert token.split("=")[0] in options, f"{doc.name}: {token} in {line}"
            checked += 1
    assert checked >= 8


@pytest.fixture(scope="module")
def urls(tmp_path_factory: pytest.TempPathFactory) -> MapAdapter:
    settings = load_settings(
        env={},
        config_file=None,
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key="docs-test-secret",
        jwt_secret="docs-test-jwt-secret-of-at-least-32-bytes",
    )
    app: Flask = create_app({"TESTING": True, "SERVICES_FACTORY": None}, settings)
    return app.url_map.bind("127.0.0.1")


def test_curl_examples_name_real_routes_with_valid_json(urls: MapAdapter) -> None:
    checked = 0
    for doc, body in _blocks(("sh", "console", "bash", "shell")):
        for line in _commands(body):
            if not line.startswith("curl "):
                continue
            tokens = shlex.split(line.split(" # ")[0].split(" | ")[0])
            method = "GET"
            url = next(t for t in tokens if "http" in t or t.startswith("$API"))
            for flag, value in itertools.pairwise(tokens):
                if flag == "-X":
                    method = value
                if flag == "-d" and not value.startswith("$("):
                    json.loads(value)  # a JSON body that does not parse is a broken example
                if flag in ("-d", "-F") and method == "GET":
                    method = "POST"
            path = re.sub(r"^(\$API|https?://[^/]+)", "", url).split("?")[0]
            path = ("/v1" + path) if url.startswith("$API") else path
            path = re.sub(r"\$(\w+)", "x", path)
            try:
                urls.match(path, method=method)
            except (NotFound, MethodNotAllowed):
                pytest.fail(f"{doc.name}: {method} {path} is not a route ({line})")
            checked += 1
    assert checked >= 20


def test_python_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for doc, body in _blocks(("python",)):
        exec(compile(body, str(doc), "exec"), {"__name__": "__docs__"})


def test_cli_reference_lists_every_command_and_option() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for path, command in _all_commands(cli).items():
        if isinstance(command, click.Group):
            continue
        assert f"### `{path}`" in text, path
        section = text.split(f"### `{path}`", 1)[1].split("\n### ", 1)[0]
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.opts[0] in section, f"{path} {param.opts[0]}"


def test_cli_reference_is_generated_from_the_commands() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert text.split(HEADING, 1)[1] == reference_markdown().split(HEADING, 1)[1], (
        "docs/cli.md's reference is stale: python -m cleanroom.cli.reference"
    )
