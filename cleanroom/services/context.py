"""The services context: settings, the store and the engine for one process.

``build_services(settings)`` opens the store (migrating it when asked) and creates the engine
lazily, on the first run: a web worker that only serves metadata never starts a Spark session.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cleanroom.config import Settings
from cleanroom.engine import Engine, make_engine
from cleanroom.errors import CleanroomError
from cleanroom.store import Collaboration, Store, open_store

COLLABORATION_CACHE_SECONDS = 5.0


class CollaborationCache:
    """Collaborations (policy, dates and members) read on every request, kept for a few seconds.

    A change made by this process replaces the cached record at once (``put``); another process
    sees it within ``seconds``. That is safe because nothing that spends budget or reads data
    trusts the cache: creating a run and executing one re-read the store, so a tightened policy,
    an end date or an ended membership holds from the moment it is written. Membership is never
    removed (an ended partner stays a reader), so a cached record can only miss a partner added
    in the last seconds, and the access check re-reads the store before it answers
    ``not_found`` on a cached record.
    """

    def __init__(self, seconds: float = COLLABORATION_CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Collaboration]] = {}

    def get(self, collaboration_id: str) -> Collaboration | None:
        with self._lock:
            entry = self._entries.get(collaboration_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, collab: Collaboration) -> None:
        with self._lock:
            if len(self._entries) > 10_000:  # bounded: forget everything rather than grow
                self._entries.clear()
            self._entries[collab.id] = (time.monotonic() + self.seconds, collab)


class Stoppable(Protocol):
    def stop(self, timeout: float = ...) -> None: ...


@dataclass
class Services:
    """Everything a use case needs. One per process; safe to share between threads."""

    settings: Settings
    store: Store
    engine_factory: Callable[[Settings], Engine] = make_engine
    _engine: Engine | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    run_queued: threading.Event = field(default_factory=threading.Event, init=False)
    collaborations: CollaborationCache = field(default_factory=CollaborationCache, init=False)
    _workers: list[Stoppable] = field(default_factory=list, init=False)

    def attach_worker(self, worker: Stoppable) -> None:
        """A run worker stopped by :meth:`close`."""
        self._workers.append(worker)

    def engine(self) -> Engine:
        """The process's engine, created on first use."""
        with self._lock:
            if self._engine is None:
                self._engine = self.engine_factory(self.settings)
            return self._engine

    def ready(self) -> dict[str, bool]:
        """Readiness: the store answers, the engine can serve runs and the data volume has at
        least ``min_free_disk_bytes`` free."""
        store_ok = self.store.ping()
        try:
            self.engine().check_ready()
            engine_ok = True
        except CleanroomError:
            engine_ok = False
        return {"store": store_ok, "engine": engine_ok, "disk": self.disk_ok()}

    def disk_ok(self) -> bool:
        """True when the data volume has at least ``min_free_disk_bytes`` free."""
        try:
            free = shutil.disk_usage(self.settings.data_dir).free
        except OSError:
            return False
        return free >= self.settings.min_free_disk_bytes

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers.clear()
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None
        self.store.close()


def build_services(settings: Settings, *, migrate: bool = False) -> Services:
    """Open the store at ``settings.effective_database_url`` (SQLite under the data dir unless
    configured) and return the context. ``migrate`` upgrades the schema first (embedded use)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.effective_database_url)
    if migrate:
        store.migrate()
    return Services(settings=settings, store=store)
