"""``cleanroom init-db`` and ``cleanroom purge-expired``: local maintenance of the store and the
data directory (run on the server host, with the server's settings).

``init-db`` is the one migration step of a deployment (a one-off job per install or upgrade);
workers, and servers in production mode, only check that the schema is at the newest migration
(:func:`require_current_schema`), so replicas starting together never race to migrate."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import click

from cleanroom.config import Settings, load_settings, warn_generated_secrets
from cleanroom.errors import CleanroomError, StoreUnavailable
from cleanroom.services.context import build_services
from cleanroom.services.datasets import purge_expired as purge_expired_versions
from cleanroom.services.maintenance import migrate, schema_status


def redacted_url(url: str) -> str:
    """A database URL fit to print: any password replaced by ``***``.

    >>> redacted_url("postgresql+psycopg://app:s3cret@db:5432/cleanroom")
    'postgresql+psycopg://app:***@db:5432/cleanroom'
    >>> redacted_url("sqlite:////var/lib/cleanroom/cleanroom.db")
    'sqlite:////var/lib/cleanroom/cleanroom.db'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def local_settings() -> Settings:
    """The settings of this host, or a ``code: detail`` usage error."""
    try:
        settings = load_settings()
    except CleanroomError as err:
        raise click.ClickException(f"{err.code}: {err.detail}") from None
    warn_generated_secrets(settings)
    return settings


def require_current_schema(url: str) -> None:
    """Return when the store at ``url`` is at the newest migration, else fail (exit 1) saying to
    run ``cleanroom init-db``; the driver's own text may hold credentials and is not shown."""
    try:
        status = schema_status(url)
    except Exception as err:  # noqa: BLE001 - the driver's text may hold credentials
        raise click.ClickException(
            f"the metadata store at {redacted_url(url)} could not be read ({type(err).__name__});"
            " check CLEANROOM_DATABASE_URL"
        ) from None
    if status.is_current:
        return
    found = ", ".join(status.current) or "no schema"
    raise click.ClickException(
        f"the metadata store at {redacted_url(url)} is at {found}, not the newest migration "
        f"({', '.join(status.heads)}): run `cleanroom init-db` once (a one-off job with the "
        "servers' settings), then start the servers and workers"
    )


@click.command("init-db")
def init_db() -> None:
    """Create or upgrade the metadata store's schema to the newest migration."""
    settings = local_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url
    try:
        migrate(url)
    except StoreUnavailable as err:  # the operator needs the driver's reason (a bad password?)
        raise click.ClickException(f"{err.code}: {err.detail} ({err.reason})") from None
    except CleanroomError as err:
        raise click.ClickException(f"{err.code}: {err.detail}") from None
    click.echo(f"database at {redacted_url(url)} is at the newest schema")


@click.command("purge-expired")
def purge_expired() -> None:
    """Delete the files of dataset versions past their retention and mark them purged."""
    svc = build_services(local_settings())
    try:
        purged = purge_expired_versions(svc)
    except CleanroomError as err:
        raise click.ClickException(f"{err.code}: {err.detail}") from None
    finally:
        svc.close()
    click.echo(f"purged {len(purged)} expired dataset version(s)")
