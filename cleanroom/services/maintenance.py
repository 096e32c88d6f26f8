"""Maintenance of the metadata store on the server host (``cleanroom init-db``, ``serve``,
``worker``): bring its schema to the newest migration, or read where it stands without changing
anything (workers, and servers in production mode, refuse a store that is not at the newest
migration rather than race to migrate it). Purging expired dataset versions is
:func:`cleanroom.services.datasets.purge_expired`."""

from __future__ import annotations

from dataclasses import dataclass

from cleanroom import store


@dataclass(frozen=True)
class SchemaStatus:
    """Where a store's schema stands: its revisions (empty before the first migration) and the
    newest migrations'."""

    current: tuple[str, ...]
    heads: tuple[str, ...]

    @property
    def is_current(self) -> bool:
        """True when the schema is at the newest migration.

        >>> SchemaStatus(("0004",), ("0004",)).is_current, SchemaStatus((), ("0004",)).is_current
        (True, False)
        """
        return self.current == self.heads


def migrate(database_url: str) -> None:
    """Create or upgrade the schema at ``database_url`` to the newest migration; idempotent."""
    store.init_db(database_url)


def schema_status(database_url: str) -> SchemaStatus:
    """The schema revisions of the store at ``database_url``; reads only, takes no lock."""
    current, heads = store.schema_revisions(database_url)
    return SchemaStatus(current, heads)
