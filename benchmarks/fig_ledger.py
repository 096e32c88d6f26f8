"""Figure 5: runs created with their budget charge per second under contention, and overspend.

A collaboration's budget admits exactly ``N`` runs (epsilon 1/64 each, exact in binary so float
sums cannot blur the limit). ``P`` processes x ``T`` threads each create runs of the same partner
through ``Store.create_run_with_charge`` (the insert, the charge and the audit records in one
transaction, with an idempotency key each, as a request to ``POST .../runs`` does) until refused;
all start at one wall-clock instant. Granted runs / (last grant - start) is the throughput;
overspend = granted - N (must be 0). On SQLite (a file under the scratch directory) and on
PostgreSQL (a scratch schema, dropped afterwards).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import Size, Table, fmt_rate, median, run_case, verdict
from cleanroom.errors import BudgetExhausted
from cleanroom.events import BudgetCharged, RunCreated

CHARGE = 1 / 64
TARGET_PER_S = 200
PG_URL = os.environ.get(
    "CLEANROOM_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def worker_case(args: dict[str, Any]) -> dict[str, Any]:
    """Child: ``threads`` threads creating runs until refused; grant count and time of the last."""
    from cleanroom.store import open_store

    store = open_store(args["url"])
    lock = threading.Lock()
    granted: list[float] = []
    errors: list[str] = []

    def run_until_refused() -> None:
        while True:
            audit = [
                RunCreated(template_id=args["template_id"], epsilon=CHARGE, delta=0.0).by(
                    "bench", "acme"
                ),
                BudgetCharged(epsilon=CHARGE, delta=0.0).by("bench", "acme"),
            ]
            try:
                store.create_run_with_charge(
                    args["collaboration_id"], args["template_id"], 1, "acme", "bench", {},
                    CHARGE, 0.0, idempotency_key=uuid.uuid4().hex, audit=audit,
                )  # fmt: skip
            except BudgetExhausted:
                return
            except Exception as exc:  # noqa: BLE001 - counted and reported, never hidden
                with lock:
                    errors.append(type(exc).__name__)
                return
            with lock:
                granted.append(time.time())

    time.sleep(max(0.0, args["start_at"] - time.time()))
    with ThreadPoolExecutor(args["threads"]) as pool:
        for _ in range(args["threads"]):
            pool.submit(run_until_refused)
    store.close()
    last = max(granted, default=args["start_at"])
    return {"granted": len(granted), "last": last, "errors": errors}


@contextmanager
def _postgres_schema() -> Iterator[str | None]:
    """A fresh schema on the local PostgreSQL (None when unreachable), dropped afterwards."""
    import psycopg

    plain = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    schema = "bench_" + uuid.uuid4().hex[:12]
    try:
        with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.Error:
        yield None
        return
    try:
        sep = "&" if "?" in PG_URL else "?"
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _contend(url: str, size: Size) -> dict[str, Any]:
    from cleanroom.store import open_store

    store = open_store(url)
    store.migrate()
    policy = {"epsilon_budget": size.ledger_admits * CHARGE, "max_epsilon_per_run": CHARGE}
    collab = store.create_collaboration("ledger-bench", "retailer", ["acme"], policy, "bench")
    template = store.submit_template(
        collab.id, "ledger-bench", "acme", "bench", "SELECT 1", [], "measurement"
    )
    start_at = time.time() + 3.0  # every child is up and connected by then
    args = {
        "url": url,
        "collaboration_id": collab.id,
        "template_id": template.id,
        "threads": size.ledger_threads,
    }
    with ThreadPoolExecutor(size.ledger_processes) as pool:
        futures = [
            pool.submit(run_case, "ledger_worker", {**args, "start_at": start_at})
            for _ in range(size.ledger_processes)
        ]
        results = [f.result() for f in futures]
    line = store.get_budget_line(collab.id, "acme")
    stored = len(store.list_runs(collab.id, "acme"))  # each with its charge, one transaction
    store.close()
    granted = sum(r["granted"] for r in results)
    elapsed = max(r["last"] for r in results) - start_at
    return {
        "granted": granted,
        "stored": stored,
        "overspend": max(0, granted - size.ledger_admits, stored - size.ledger_admits),
        "spent_ok": line.spent_epsilon <= line.total_epsilon + 1e-9,
        "per_s": granted / elapsed if elapsed > 0 else float("nan"),
        "errors": sorted({e for r in results for e in r["errors"]}),
    }


def ledger_figure(size: Size, repeat: int, scratch: Path) -> list[Table]:
    table = Table(
        "ledger",
        [
            "store", "processes x threads", "budget admits (runs)", "granted",
            "runs+charge/s (median)", "min..max runs+charge/s", "overspend", "errors",
            "target >= 200/s, 0 overspend",
        ],
    )  # fmt: skip
    for store_name in ("SQLite", "PostgreSQL"):
        outcomes = []
        for i in range(repeat):
            if store_name == "SQLite":
                path = scratch / f"ledger-{i}.db"
                outcomes.append(_contend(f"sqlite:///{path}", size))
                continue
            with _postgres_schema() as url:
                if url is None:
                    break
                outcomes.append(_contend(url, size))
        if not outcomes:
            table.rows.append([store_name, "-", "-", "-", "skipped: PostgreSQL unreachable"])
            continue
        rates = sorted(o["per_s"] for o in outcomes)
        overspend = max(o["overspend"] for o in outcomes)
        errors = sorted({e for o in outcomes for e in o["errors"]})
        rate = median(rates)
        ok = rate >= TARGET_PER_S and overspend == 0 and all(o["spent_ok"] for o in outcomes)
        table.rows.append(
            [
                store_name,
                f"{size.ledger_processes} x {size.ledger_threads}",
                str(size.ledger_admits),
                "/".join(str(o["granted"]) for o in outcomes),
                fmt_rate(rate),
                f"{fmt_rate(rates[0])}..{fmt_rate(rates[-1])}",
                str(overspend),
                ", ".join(errors) or "0",
                verdict(ok and not errors),
            ]
        )
    table.notes.append(
        f"{repeat} contention rounds per store, each on a fresh database; every thread creates "
        "runs (each with its charge and two audit records) until its first refusal."
    )
    return [table]
