"""Run in spawned processes by ``test_store_ledger``: many threads racing to spend one budget."""

from __future__ import annotations

import threading

from cleanroom.errors import BudgetExhausted
from cleanroom.store import open_store


def charge_in_threads(
    database_url: str, collaboration_id: str, threads: int, epsilon: float, tag: str
) -> tuple[int, int]:
    """Start ``threads`` threads that each try to create one run with its charge at the same
    moment (each with a key of its own).

    Returns (granted, refused). Any other exception propagates and fails the test.
    """
    store = open_store(database_url)
    barrier = threading.Barrier(threads)
    granted: list[int] = []
    refused: list[int] = []
    errors: list[BaseException] = []
    template = store.list_templates(collaboration_id)[0]

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            store.create_run_with_charge(
                collaboration_id, template.id, template.version, "acme", "bob", {}, epsilon, 0.0,
                idempotency_key=f"{tag}-{i}",
            )  # fmt: skip
            granted.append(i)
        except BudgetExhausted:
            refused.append(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent below
            errors.append(exc)

    pool = [threading.Thread(target=attempt, args=(i,)) for i in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    store.close()
    if errors:
        raise errors[0]
    return len(granted), len(refused)
