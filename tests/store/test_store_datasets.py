"""Datasets, versions, current version and purging."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cleanroom.errors import Conflict, InvalidRequest, NotFound
from cleanroom.store import Collaboration, Store, new_id
from tests.store.store_fixtures import FakeClock, event

SPEC = {"name": "tx", "kind": "personal", "columns": {"b": {"role": "dimension"}}}


def _upload(store: Store, cid: str, org: str = "shopco", **kw: object) -> tuple:  # type: ignore[type-arg]
    return store.register_dataset_version(
        cid, "tx", org, "personal", SPEC, path=f"datasets/{new_id('f')}.parquet",
        row_count=10, dropped_identifiers=1, size_bytes=100, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_versions_count_up_and_current_is_the_newest(store: Store, collab: Collaboration) -> None:
    ds, v1 = _upload(store, collab.id, audit=event("dataset.registered", "alice", "shopco"))
    assert (v1.version, ds.current) == (1, v1)
    ds2, v2 = _upload(store, collab.id)
    assert ds2.id == ds.id
    assert v2.version == 2
    assert store.get_dataset(ds.id).current == v2
    assert [d.current for d in store.list_datasets(collab.id) if d.name == "tx"] == [v2]
    assert [v.version for v in store.list_dataset_versions(ds.id)] == [1, 2]
    assert [d.name for d in store.list_datasets(collab.id)] == ["tx"]
    assert store.list_audit(collab.id)[-1].details["version"] == 1
    assert ds.to_dict(sizes=True)["current_version"]["bytes"] == 100


def test_exact_figures_are_left_out_unless_asked_for(store: Store, collab: Collaboration) -> None:
    ds, version = _upload(store, collab.id, max_rows_per_person=3)
    figures = {"row_count": 10, "dropped_identifiers": 1, "bytes": 100, "max_rows_per_person": 3}
    full = version.to_dict(sizes=True)
    assert {k: full[k] for k in figures} == figures
    shown = ds.to_dict()["current_version"]  # the default is the safe one
    assert set(shown) == {"dataset_id", "version", "created_at", "expires_at", "purged_at"}
    assert set(version.to_dict()) == set(shown)
    assert ds.to_dict(sizes=True)["current_version"] == full


def test_names_are_unique_per_collaboration_and_owned(store: Store, collab: Collaboration) -> None:
    _upload(store, collab.id)
    with pytest.raises(Conflict):
        _upload(store, collab.id, org="acme")
    assert [(d.name, d.owner_org) for d in store.list_datasets(collab.id)] == [("tx", "shopco")]


def test_get_dataset_is_scoped_to_its_collaboration(store: Store, collab: Collaboration) -> None:
    ds, _ = _upload(store, collab.id)
    with pytest.raises(NotFound):
        store.get_dataset(ds.id, collaboration_id="col_other")
    assert store.get_dataset(ds.id, collaboration_id=collab.id).id == ds.id


def test_purge_marks_every_version(store: Store, collab: Collaboration) -> None:
    ds, _ = _upload(store, collab.id)
    _upload(store, collab.id)
    purged = store.purge_dataset(ds.id, audit=event("dataset.deleted", "alice", "shopco"))
    assert [v.version for v in purged] == [1, 2]
    assert all(v.purged_at is not None for v in purged)
    assert store.get_dataset(ds.id).current is None
    assert store.purge_dataset(ds.id) == []
    # a new upload after a purge becomes current again
    _, v3 = _upload(store, collab.id)
    assert store.get_dataset(ds.id).current == v3


def test_expired_versions_are_purged(store: Store, collab: Collaboration, clock: FakeClock) -> None:
    ds, _v1 = _upload(store, collab.id, expires_at=clock() + timedelta(days=1))
    _, v2 = _upload(store, collab.id, expires_at=clock() + timedelta(days=90))
    assert store.purge_expired_versions() == []
    clock.advance(days=2)
    assert [(v.dataset_id, v.version) for v in store.purge_expired_versions()] == [(ds.id, 1)]
    assert store.get_dataset(ds.id).current == v2
    clock.advance(days=100)
    store.purge_expired_versions()
    assert store.get_dataset(ds.id).current is None
    # each purge was audited in its own transaction, by the system, for the dataset's owner
    expired = store.list_audit(collab.id, name="dataset.expired")
    assert [(e.actor, e.org, e.details) for e in expired] == [
        ("system", ds.owner_org, {"name": ds.name, "version": 1}),
        ("system", ds.owner_org, {"name": ds.name, "version": 2}),
    ]
    assert store.verify_audit(collab.id).ok


def test_max_rows_per_person_is_recorded_per_version(store: Store, collab: Collaboration) -> None:
    ds, v1 = _upload(store, collab.id)
    assert v1.max_rows_per_person is None  # not measured
    assert v1.to_dict(sizes=True)["max_rows_per_person"] is None
    _, v2 = _upload(store, collab.id, max_rows_per_person=7)
    assert v2.max_rows_per_person == 7
    assert store.get_dataset(ds.id).current == v2
    current = store.get_dataset(ds.id).to_dict(sizes=True)["current_version"]
    assert current["max_rows_per_person"] == 7
    assert [v.max_rows_per_person for v in store.list_dataset_versions(ds.id)] == [None, 7]


@pytest.mark.parametrize("bad", [-1, 2.5, True, "3"])
def test_max_rows_per_person_must_be_a_count(
    store: Store, collab: Collaboration, bad: object
) -> None:
    with pytest.raises(InvalidRequest, match="max_rows_per_person"):
        _upload(store, collab.id, max_rows_per_person=bad)
    assert store.list_datasets(collab.id) == []  # nothing was written
