"""The ``Store``: one object with every store operation, and the functions that open it."""

from __future__ import annotations

from cleanroom.store.audit import AuditMixin
from cleanroom.store.collaborations import CollaborationsMixin
from cleanroom.store.datasets import DatasetsMixin
from cleanroom.store.db import Clock
from cleanroom.store.ledger import LedgerMixin
from cleanroom.store.run_lifecycle import RunLifecycleMixin
from cleanroom.store.runs import RunsMixin
from cleanroom.store.suppressions import SuppressionsMixin
from cleanroom.store.templates import TemplatesMixin
from cleanroom.store.totals import TotalsMixin


class Store(
    CollaborationsMixin,
    SuppressionsMixin,
    DatasetsMixin,
    TemplatesMixin,
    RunsMixin,
    RunLifecycleMixin,
    LedgerMixin,
    AuditMixin,
    TotalsMixin,
):
    """The metadata store. Safe to share between threads; open one per process.

    Every method runs in its own transaction and returns frozen records. Write methods accept
    ``audit=`` (one ``AuditEvent`` or several) appended to the collaboration's chain in the same
    transaction, so the state change and its audit record commit together or not at all. The store
    merges the facts it decided itself (new ids, version numbers, counts, privacy loss) into each
    event's details, e.g. ``run_id`` for ``create_run_with_charge`` or ``version`` for
    ``submit_template``.
    When an idempotency key matches an existing run nothing is written, audit included.
    """


def open_store(database_url: str, *, clock: Clock | None = None) -> Store:
    """Open the store at a SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``).

    Does not create tables: call ``init_db`` / ``Store.migrate()`` once (``cleanroom init-db``).
    ``clock`` replaces the UTC wall clock (tests).
    """
    return Store(database_url, clock=clock)


def init_db(database_url: str) -> None:
    """Create or upgrade the schema to the newest migration (``alembic upgrade head``)."""
    store = open_store(database_url)
    try:
        store.migrate()
    finally:
        store.close()


def schema_revisions(database_url: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(the store's schema revisions, the newest migrations')`` without changing anything."""
    store = open_store(database_url)
    try:
        return store.schema_revisions()
    finally:
        store.close()
