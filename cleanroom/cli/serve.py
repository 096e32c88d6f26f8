"""``cleanroom serve``: run the HTTP API under gunicorn (or Flask's dev server with ``--dev``).

The command replaces itself with the server process (``exec``), so signals reach gunicorn's
master directly and a supervisor sees one process. Host, port and workers given here are passed
on as ``CLEANROOM_*`` variables, so the gunicorn configuration and every worker read the same
settings.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from cleanroom.cli.database import require_current_schema
from cleanroom.config import ENV_PREFIX, load_settings, warn_generated_secrets
from cleanroom.errors import CleanroomError
from cleanroom.services.maintenance import migrate
from cleanroom.web.gunicorn_worker import ClientLimits

WSGI_APP = "cleanroom.web.wsgi:app"
APP_FACTORY = "cleanroom.web.app:create_app"


def default_gunicorn_config() -> Path:
    """``configs/gunicorn.conf.py`` of the source tree this package runs from."""
    return Path(__file__).resolve().parents[2] / "configs" / "gunicorn.conf.py"


def server_command(dev: bool, config: Path) -> list[str]:
    """The argv of the server: gunicorn with our config, or Flask's reloading dev server."""
    if dev:
        settings = load_settings()
        return [
            sys.executable, "-m", "flask", "--app", APP_FACTORY, "run",
            "--host", settings.host, "--port", str(settings.port), "--reload", "--no-debugger",
        ]  # fmt: skip
    return [sys.executable, "-m", "gunicorn", "--config", str(config), WSGI_APP]


@click.command()
@click.option("--host", help="Address to bind (default: the host setting).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: the port setting).")
@click.option("--workers", type=click.IntRange(1, 64), help="gunicorn worker processes.")
@click.option("--dev", is_flag=True, help="Flask's reloading development server, not gunicorn.")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="gunicorn configuration file (default: configs/gunicorn.conf.py).",
)
def serve(
    host: str | None, port: int | None, workers: int | None, dev: bool, config: Path | None
) -> None:
    """Serve the HTTP API."""
    overrides = {"HOST": host, "PORT": port, "GUNICORN_WORKERS": workers}
    for name, value in overrides.items():
        if value is not None:
            os.environ[ENV_PREFIX + name] = str(value)
    try:
        settings = load_settings()  # fail here, with a message, rather than in every worker
        ClientLimits.from_settings(settings)
    except CleanroomError as err:
        raise click.ClickException(f"{err.code}: {err.detail}") from None
    warn_generated_secrets(settings, every_time=True)
    if settings.mode == "production":
        # Migrating is `cleanroom init-db`, a one-off job: replicas must not race to do it.
        require_current_schema(settings.effective_database_url)
    else:
        # The embedded default serves from a fresh data directory (migrating is idempotent).
        try:
            migrate(settings.effective_database_url)
        except Exception as err:  # noqa: BLE001 - the driver's text may hold credentials
            raise click.ClickException(
                f"the metadata store could not be migrated ({type(err).__name__}); "
                "check CLEANROOM_DATABASE_URL and run `cleanroom init-db`"
            ) from None
    config_path = config or default_gunicorn_config()
    if not dev and not config_path.is_file():
        raise click.ClickException(f"gunicorn configuration {config_path} not found; use --config")
    argv = server_command(dev, config_path)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # noqa: S606 - our own interpreter, a fixed argument list
