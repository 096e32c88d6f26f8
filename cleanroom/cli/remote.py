"""What every client command shares: ``--url``/``--token``/``--timeout``/``--json`` and turning
API errors into ``code: detail`` on standard error with a non-zero exit status."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from cleanroom.client import ApiClient, ApiError, RunWaitTimeout
from cleanroom.config import load_settings
from cleanroom.errors import CleanroomError

F = TypeVar("F", bound=Callable[..., Any])
# Client commands never use the server secrets; naming placeholders keeps load_settings from
# generating development secrets (and a data directory) in the caller's working directory.
_NOT_USED = "not-used-by-client-commands-" + "x" * 32


def client_options(command: F) -> F:
    """Add ``--url``, ``--token``, ``--timeout`` and ``--json`` to a client command."""
    options = (
        click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output."),
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
    )
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
        raise click.ClickException(f"{err.code}: {err.detail}") from None
    return ApiClient(url or settings.api_url, token or settings.token or None, timeout)


def fail(message: str, status: int = 1) -> None:
    click.echo(message, err=True)
    raise SystemExit(status)


@contextmanager
def api_errors() -> Iterator[None]:
    """Print an API failure as ``code: detail`` (and template violations) and exit 1."""
    try:
        yield
    except ApiError as err:
        fail(str(err))
    except RunWaitTimeout as err:
        fail(f"timeout: {err}")
    except CleanroomError as err:
        fail(f"{err.code}: {err.detail}")


def read_json_file(path: Path, what: str) -> Any:
    """A JSON file the user named; a clear usage error when it is unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise click.BadParameter(
            f"cannot read {what} {path}: {type(err).__name__}", param_hint=what
        ) from None


def client_command(command: F) -> F:
    """Wrap a command body in :func:`api_errors`."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with api_errors():
            return command(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


collaboration_option = click.option(
    "--collaboration", "collaboration_id", required=True, help="The collaboration id."
)
