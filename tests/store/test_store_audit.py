"""The hash-chained audit log: appends, paging, verification, tampering, concurrency."""

from __future__ import annotations

import dataclasses
import itertools
import threading

import pytest
from sqlalchemy import text

from cleanroom.errors import InternalError, NotFound
from cleanroom.store import GENESIS_HASH, Collaboration, Store
from cleanroom.store.audit import details_digest, record_hash
from cleanroom.store.chain import first_unverified
from tests.store.store_fixtures import event, rewrite_as_before_0003


def _fill(store: Store, cid: str, n: int) -> None:
    for i in range(n):
        store.append_audit(cid, event("report.downloaded", run_id=f"run_{i}", format="csv"))


def test_events_are_chained(store: Store, collab: Collaboration) -> None:
    _fill(store, collab.id, 4)
    records = store.list_audit(collab.id)
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].name == "collaboration.created"
    assert records[0].prev_hash == GENESIS_HASH
    for prev, cur in itertools.pairwise(records):
        assert cur.prev_hash == prev.hash
    last = records[-1]
    assert last.salt is not None
    assert len(last.salt) == 32
    assert len({r.salt for r in records}) == len(records)  # a fresh salt per record
    digest = details_digest(last.actor, dict(last.details), last.salt)
    assert last.digest == digest
    fields = {
        "seq": last.seq, "collaboration": collab.id, "name": last.name, "org": last.org,
        "created_at": last.created_at.isoformat(), "digest": digest,
    }  # fmt: skip
    assert last.hash == record_hash(records[-2].hash, fields)
    # what a member is served verifies on its side too, details withheld or not
    served = [r.to_dict() for r in records]
    assert first_unverified(served) is None
    withheld = [dataclasses.replace(r, withheld=True).to_dict() for r in records]
    assert all("details" not in e and "actor" not in e for e in withheld)
    assert first_unverified(withheld) is None
    served[2]["details"] = {"run_id": "run_forged"}
    assert first_unverified(served) == 3
    assert store.verify_audit(collab.id).to_dict() == {
        "ok": True, "events": 5, "first_broken_seq": None,
    }  # fmt: skip


def test_paging(store: Store, collab: Collaboration) -> None:
    _fill(store, collab.id, 9)
    page = store.list_audit(collab.id, after_seq=0, limit=4)
    assert [r.seq for r in page] == [1, 2, 3, 4]
    assert [r.seq for r in store.list_audit(collab.id, after_seq=page[-1].seq, limit=4)] == [
        5, 6, 7, 8,
    ]  # fmt: skip
    assert [r.seq for r in store.list_audit(collab.id, after_seq=8)] == [9, 10]


def test_chains_are_per_collaboration(store: Store, collab: Collaboration) -> None:
    other = store.create_collaboration("other", "shopco", ["acme"], {}, "alice")
    store.append_audit(other.id, event("report.downloaded"))
    assert [r.seq for r in store.list_audit(other.id)] == [1]
    assert store.verify_audit(other.id).events == 1
    with pytest.raises(NotFound):
        store.append_audit("col_missing", event("report.downloaded"))


def test_an_empty_chain_verifies(store: Store) -> None:
    bare = store.create_collaboration("bare", "shopco", ["acme"], {}, "alice")
    assert store.verify_audit(bare.id).to_dict() == {
        "ok": True, "events": 0, "first_broken_seq": None,
    }  # fmt: skip


def _tamper(store: Store, sql: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(sql), params)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_events SET details = :d WHERE collaboration_id = :c AND seq = 3",
        "UPDATE audit_events SET actor = 'mallory' WHERE collaboration_id = :c AND seq = 3",
        "UPDATE audit_events SET name = 'run.created' WHERE collaboration_id = :c AND seq = 3",
        "UPDATE audit_events SET prev_hash = :z WHERE collaboration_id = :c AND seq = 3",
        "DELETE FROM audit_events WHERE collaboration_id = :c AND seq = 3",
        f"UPDATE audit_events SET salt = '{'ab' * 16}' WHERE collaboration_id = :c AND seq = 3",
        "UPDATE audit_events SET salt = NULL WHERE collaboration_id = :c AND seq = 3",
    ],
    ids=["details", "actor", "name", "prev_hash", "deleted", "salt", "salt_removed"],
)
def test_tampering_names_the_first_broken_seq(
    store: Store, collab: Collaboration, sql: str
) -> None:
    _fill(store, collab.id, 5)
    _tamper(store, sql, c=collab.id, z="f" * 64, d='{"run_id":"run_x"}')
    result = store.verify_audit(collab.id)
    assert (result.ok, result.first_broken_seq) == (False, 3)


def test_removing_the_newest_events_is_detected(store: Store, collab: Collaboration) -> None:
    _fill(store, collab.id, 5)
    _tamper(store, "DELETE FROM audit_events WHERE collaboration_id = :c AND seq >= 5", c=collab.id)
    result = store.verify_audit(collab.id)
    assert result.to_dict() == {"ok": False, "events": 4, "first_broken_seq": 5}


def test_details_must_be_json(store: Store, collab: Collaboration) -> None:
    with pytest.raises(InternalError):
        store.append_audit(collab.id, event("report.downloaded", bad=object()))
    assert store.verify_audit(collab.id).events == 1


def test_concurrent_appends_keep_one_unbroken_chain(store: Store, collab: Collaboration) -> None:
    barrier = threading.Barrier(10)

    def append(i: int) -> None:
        barrier.wait()
        for j in range(5):
            store.append_audit(collab.id, event("report.downloaded", n=i * 100 + j))

    threads = [threading.Thread(target=append, args=(i,)) for i in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    records = store.list_audit(collab.id, limit=1000)
    assert [r.seq for r in records] == list(range(1, 52))
    assert store.verify_audit(collab.id).to_dict() == {
        "ok": True, "events": 51, "first_broken_seq": None,
    }  # fmt: skip


def test_records_written_before_0003_still_verify_and_new_ones_follow(
    store: Store, collab: Collaboration
) -> None:
    _fill(store, collab.id, 3)
    rewrite_as_before_0003(store, collab.id)  # an older log: clear actor and details
    old = store.list_audit(collab.id)
    assert all(r.salt is None and r.digest is None for r in old)
    assert store.verify_audit(collab.id).ok
    _fill(store, collab.id, 2)  # this version appends in the salted form, on the same chain
    records = store.list_audit(collab.id)
    assert [r.salt is None for r in records] == [True] * 4 + [False] * 2
    assert records[4].prev_hash == old[-1].hash
    assert store.verify_audit(collab.id).ok
    served = [r.to_dict() for r in records]
    assert first_unverified(served) is None
    # withheld older records are checked by linkage only; newer ones by their hash
    withheld = [dataclasses.replace(r, withheld=True).to_dict() for r in records]
    assert first_unverified(withheld) is None
    withheld[1]["hash"] = "e" * 64
    assert first_unverified(withheld) == 3  # the next record no longer links
    _tamper(store, "UPDATE audit_events SET actor = 'mallory' WHERE collaboration_id = :c "
            "AND seq = 2", c=collab.id)  # fmt: skip
    assert store.verify_audit(collab.id).first_broken_seq == 2
