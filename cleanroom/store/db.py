"""Engine, connection settings, transactions and migrations shared by every part of the store.

Two kinds of transaction, each as an ORM session (``_read()``, ``_write()``) or, for the hot
paths served on every request (one run, one template, the audit append of a download), as a Core
connection (``_read_rows()``, ``_write_rows()``) with the same transaction semantics and a fraction
of the per-call CPU (no identity map, no unit of work):

- ``_read()``: a plain transaction. On SQLite a deferred ``BEGIN`` (WAL lets readers run next to
  a writer); on PostgreSQL READ COMMITTED.
- ``_write()``: on SQLite ``BEGIN IMMEDIATE``, so the database write lock is held *before* the
  first read and a read-check-write sequence (budget, audit chain, idempotency key, claiming a run)
  is serialized across threads and processes; ``busy_timeout`` makes contenders wait instead of
  failing (the writers of one process queue on a Python lock first). On PostgreSQL a READ
  COMMITTED transaction in which the code takes explicit row locks (``SELECT ... FOR UPDATE``, or
  the conditional ``UPDATE`` of a budget line) on a lock-target row. Lock order is always:
  a new run's idempotency key, then the budget row, then other rows, then the audit head last, so
  two writers never wait on each other in a cycle.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, bindparam, create_engine, event, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, ExceptionContext, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from cleanroom.errors import NotFound, StoreUnavailable
from cleanroom.events import AuditEvent
from cleanroom.store.models import Base, CollaborationRow, OrganizationRow

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# A PostgreSQL that does not answer a connection attempt is an outage after this long, not a hang.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 10
# Connection option that asks the SQLite "begin" hook for BEGIN IMMEDIATE instead of BEGIN.
_IMMEDIATE = "cleanroom_begin_immediate"
# Any 64-bit number; all cleanroom processes agree on it to serialize migrations on PostgreSQL.
_MIGRATION_LOCK_KEY = 0x636C65616E726F6F

AuditArg = AuditEvent | Sequence[AuditEvent] | None
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A fresh random text id such as ``run_3f2a...`` (prefix, underscore, 32 hex digits).

    >>> rid = new_id("run")
    >>> rid.startswith("run_") and len(rid) == 36
    True
    """
    return f"{prefix}_{uuid.uuid4().hex}"


def audit_events(audit: AuditArg) -> tuple[AuditEvent, ...]:
    """Normalize the ``audit=`` argument of write methods to a tuple of events."""
    if audit is None:
        return ()
    if isinstance(audit, AuditEvent):
        return (audit,)
    return tuple(audit)


def _make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        _configure_sqlite(engine)
    else:
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in make_url(database_url).query:
            connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_SECONDS
        engine = create_engine(database_url, pool_pre_ping=True, connect_args=connect_args)
    _report_outages(engine)
    return engine


def _report_outages(engine: Engine) -> None:
    """The one place where a store outage becomes :class:`StoreUnavailable` (503 with
    ``Retry-After`` on the web, a clear message in the CLI) instead of a driver error.

    An outage is what the DB-API calls an ``OperationalError`` or ``InterfaceError``: connection
    refused or lost (a PostgreSQL restart, ``pg_terminate_backend``), a database not accepting
    connections, SQLite's ``database is locked`` after the busy timeout, a full or failing disk.
    A failed pre-ping is left alone: the pool reconnects, and only if that fails is it an outage.
    Nothing else (integrity errors, programming errors) is translated: those are bugs.
    """

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> BaseException | None:
        if context.is_pre_ping:
            return None
        wrapped = context.sqlalchemy_exception
        if context.is_disconnect or isinstance(wrapped, OperationalError | InterfaceError):
            original = context.original_exception
            first_line = (str(original).strip().splitlines() or [""])[0][:300]
            return StoreUnavailable(reason=f"{type(original).__name__}: {first_line}")
        return None


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (it would not BEGIN before a
        # SELECT, breaking read-check-write sequences); the "begin" hook below emits BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class StoreBase:
    """Holds the engine; the feature mixins (collaborations, runs, ledger, ...) build on it."""

    def __init__(self, database_url: str, *, clock: Clock | None = None) -> None:
        self._url = database_url
        self._engine = _make_engine(database_url)
        self._clock: Clock = clock or utcnow
        # SQLite has one writer at a time anyway. Queueing this process's writers on a Python
        # lock hands the write lock over as soon as it is free, instead of leaving every thread
        # in SQLite's busy handler, which polls with sleeps of up to 100 ms and lets the lock sit
        # idle. PostgreSQL writers lock rows, so they must not be serialized per process.
        self._write_gate: AbstractContextManager[object] = (
            threading.RLock() if self.dialect == "sqlite" else nullcontext()
        )

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tests and tooling; services use the methods)."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    def now(self) -> datetime:
        """The store's clock (UTC, timezone-aware); injectable for tests via ``open_store``."""
        return self._clock()

    def migrate(self) -> None:
        """Bring the schema to the newest migration (``alembic upgrade head``); idempotent."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self._engine.connect() as conn:
            conn.execution_options(**{_IMMEDIATE: True})
            with conn.begin():
                if self.dialect == "postgresql":
                    # Concurrent start-ups (many gunicorn workers) migrate one at a time.
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY}
                    )
                config.attributes["connection"] = conn
                command.upgrade(config, "head")

    def schema_revisions(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(the store's revisions, the newest migrations')``: equal when the schema is at head;
        the first is empty before ``migrate()`` ever ran. Reads only, takes no lock."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        heads = tuple(sorted(ScriptDirectory.from_config(config).get_heads()))
        with self._engine.connect() as conn:
            current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
        return current, heads

    def ping(self) -> bool:
        """True when the database answers and the schema is migrated (for ``/readyz``)."""
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1 FROM alembic_version"))
        except Exception:  # noqa: BLE001 - any failure means "not ready"; details stay in logs
            return False
        return True

    def close(self) -> None:
        """Release pooled connections."""
        self._engine.dispose()

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._write_gate, self._engine.connect() as conn:
            conn.execution_options(**{_IMMEDIATE: True})
            with Session(bind=conn, expire_on_commit=False) as session, session.begin():
                yield session

    @contextmanager
    def _read_rows(self) -> Iterator[Connection]:
        """``_read()`` as a Core connection: rows come back as plain ``Row`` tuples."""
        with self._engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write_rows(self) -> Iterator[Connection]:
        """``_write()`` as a Core connection (the same write gate and ``BEGIN IMMEDIATE``)."""
        with self._write_gate, self._engine.connect() as conn:
            conn.execution_options(**{_IMMEDIATE: True})
            with conn.begin():
                yield conn


def insert_ignore(
    session: Session | Connection, table: type[Base], rows: Sequence[Mapping[str, Any]]
) -> int:
    """``INSERT ... ON CONFLICT DO NOTHING`` on either dialect; returns how many rows were new."""
    if not rows:
        return 0
    build = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    stmt = build(table).values(list(rows)).on_conflict_do_nothing()
    # RETURNING lists only the inserted rows on both dialects (rowcount is unreliable for
    # multi-row statements across drivers).
    pk = next(iter(inspect(table).primary_key))
    return len(session.execute(stmt.returning(pk)).all())


def lock_name(session: Session, *parts: str) -> None:
    """Serialize writers on a name (e.g. one dataset's version numbers) for this transaction.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: nothing to do, the write transaction
    already holds the database write lock (BEGIN IMMEDIATE).
    """
    if _dialect(session) == "postgresql":
        key = "\x1f".join(parts)
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})


def ensure_org(session: Session, org: str, kind: str, now: datetime) -> None:
    """Create the organization on first reference (its kind is the one first seen)."""
    insert_ignore(session, OrganizationRow, [{"id": org, "kind": kind, "created_at": now}])


def require_collaboration(session: Session, collaboration_id: str) -> CollaborationRow:
    """The collaboration row, or ``NotFound``."""
    row = session.get(CollaborationRow, collaboration_id)
    if row is None:
        raise NotFound("collaboration not found")
    return row


_COLLABORATION_EXISTS = select(CollaborationRow.id).where(CollaborationRow.id == bindparam("e_cid"))


def require_collaboration_exists(conn: Connection, collaboration_id: str) -> None:
    """``NotFound`` unless the collaboration exists (a Core connection's one-column check)."""
    found = conn.execute(_COLLABORATION_EXISTS, {"e_cid": collaboration_id}).first()
    if found is None:
        raise NotFound("collaboration not found")


def _dialect(session: Session | Connection) -> str:
    if isinstance(session, Connection):
        return session.dialect.name
    return session.get_bind().dialect.name
