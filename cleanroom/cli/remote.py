"""What every client command shares: ``--url``/``--token``/``--timeout``/``--json``/``--quiet``
and turning API errors into ``code: detail`` (or, with ``--json``, the problem document) on
standard error with the exit status of their kind (``cleanroom.cli.exits``)."""

from __future__ import annotations

import functools
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from cleanroom.cli import exits
from cleanroom.cli.output import QUIET
from cleanroom.client import ApiClient, ApiError, RunWaitTimeout
from cleanroom.config import load_settings
from cleanroom.errors import CleanroomError

F = TypeVar("F", bound=Callable[..., Any])
# Client commands never use the server secrets; naming placeholders keeps load_settings from
# generating development secrets (and a data directory) in the caller's working directory.
_NOT_USED = "not-used-by-client-commands-" + "x" * 32
STDIO = "-"


def _remember_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    ctx.meta[QUIET] = ctx.meta.get(QUIET, False) or value
    return value


def client_options(command: F) -> F:
    """Add ``--url``, ``--token``, ``--timeout``, ``--json`` and ``--quiet`` to a client command."""
    options = (
        click.option(
            "-q", "--quiet", is_flag=True, expose_value=False, callback=_remember_quiet,
            help="Print only the id(s) of the result (for shell variables).",
        ),
        click.option("--json", "as_json", is_flag=True,
                     help="Machine-readable JSON output (errors: the problem document on stderr)."),
        click.option(
            "--timeout",
            type=click.FloatRange(min=1.0),
            default=30.0,
            show_default=True,
            help="Seconds to wait for each HTTP answer.",
        ),
        click.option(
            "--token", envvar="CLEANROOM_TOKEN", help="Bearer token (default: the token setting)."
        ),
        click.option("--url", help="Server base URL (default: the api_url setting)."),
    )  # fmt: skip
    for option in options:
        command = option(command)
    return command


def make_client(url: str | None, token: str | None, timeout: float) -> ApiClient:
    """An :class:`ApiClient` for the command line's ``--url`` and ``--token`` or the settings."""
    if url and token:
        return ApiClient(url, token, timeout)
    try:
        settings = load_settings(secret_key=_NOT_USED, jwt_secret=_NOT_USED)
    except CleanroomError as err:
        raise click.UsageError(f"{err.code}: {err.detail}") from None
    return ApiClient(url or settings.api_url, token or settings.token or None, timeout)


def fail(message: str, status: int = exits.FAILED) -> NoReturn:
    click.echo(message, err=True)
    raise SystemExit(status)


def fail_with(problem: Mapping[str, Any], message: str, status: int, as_json: bool) -> NoReturn:
    """Exit with ``status``: ``problem`` as JSON on stderr with ``--json``, else ``message``."""
    if as_json:
        click.echo(json.dumps(dict(problem), sort_keys=True, default=str), err=True)
        raise SystemExit(status)
    fail(message, status)


def _problem(status: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "code": code, "detail": detail, **extra}


@contextmanager
def api_errors(as_json: bool = False) -> Iterator[None]:
    """Turn a failure into its message (or problem document) on stderr and its exit status."""
    try:
        yield
    except ApiError as err:
        problem = err.body or _problem(err.status, err.code, err.detail)
        fail_with(problem, str(err), exits.exit_status(err.status, err.code), as_json)
    except RunWaitTimeout as err:
        problem = _problem(0, "timeout", str(err), run_id=err.run_id)
        fail_with(problem, f"timeout: {err}", exits.TIMEOUT, as_json)
    except CleanroomError as err:
        problem = _problem(err.status, err.code, err.detail)
        fail_with(problem, f"{err.code}: {err.detail}", exits.exit_status(err.status, err.code),
                  as_json)  # fmt: skip


def read_text_input(path: str, what: str) -> str:
    """The text of the file a user named, or standard input for ``-``; a usage error when it
    cannot be read."""
    try:
        if path == STDIO:
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise click.BadParameter(
            f"cannot read {what} {path}: {type(err).__name__}", param_hint=what
        ) from None


# A file argument that also takes ``-`` (standard input) for an upload.
UPLOAD_FILE = click.Path(exists=True, dir_okay=False, allow_dash=True)


@contextmanager
def upload_source(path: str, what: str, name: str = "stdin") -> Iterator[Path]:
    """The file a user named, or standard input (``-``) spooled to a private temporary file called
    ``name`` and deleted afterwards; a usage error when standard input is empty."""
    if path != STDIO:
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="cleanroom-upload-") as folder:
        spooled = Path(folder) / name
        with spooled.open("wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out)
        if spooled.stat().st_size == 0:
            raise click.BadParameter("standard input is empty", param_hint=what)
        yield spooled


def read_json_file(path: Path | str, what: str) -> Any:
    """A JSON file the user named (``-``: standard input); a clear usage error when unreadable."""
    text = read_text_input(str(path), what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise click.BadParameter(
            f"{what} {path} is not JSON: {err.msg} at line {err.lineno}", param_hint=what
        ) from None


def write_output(path: str, body: bytes) -> None:
    """Write ``body`` to the file ``path``, or to standard output for ``-``."""
    if path == STDIO:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    try:
        Path(path).write_bytes(body)
    except OSError as err:
        raise click.BadParameter(f"cannot write {path}: {type(err).__name__}") from None
    click.echo(f"wrote {path} ({len(body)} bytes)", err=True)


def client_command(command: F) -> F:
    """Wrap a command body in :func:`api_errors` (honouring its ``--json``)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with api_errors(bool(kwargs.get("as_json"))):
            return command(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


collaboration_option = click.option(
    "--collaboration", "collaboration_id", required=True, help="The collaboration id."
)
