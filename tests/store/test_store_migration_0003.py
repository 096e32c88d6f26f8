"""Migration 0003: template versions and dataset names per org, salted audit digests; down/up."""

from __future__ import annotations

import pytest

from cleanroom.errors import Conflict
from cleanroom.store import Collaboration, Store
from tests.store.test_store_migrations import _migrate


def _submit(store: Store, collab: Collaboration, org: str, name: str = "conv") -> int:
    t = store.submit_template(collab.id, name, org, "bob", "SELECT 1", [], "measurement")
    return t.version


def test_another_orgs_template_name_is_not_taken(store: Store, collab: Collaboration) -> None:
    assert _submit(store, collab, "acme") == 1
    assert _submit(store, collab, "acme") == 2
    assert _submit(store, collab, "beta") == 1  # not "version 3": acme's versions are not counted
    assert _submit(store, collab, "beta") == 2
    assert _submit(store, collab, "acme") == 3
    names = [(t.org, t.version) for t in store.list_templates(collab.id) if t.name == "conv"]
    assert sorted(names) == [("acme", 1), ("acme", 2), ("acme", 3), ("beta", 1), ("beta", 2)]


def test_down_to_0002_and_up_again(store: Store) -> None:
    # a store used without audit events in the new format can go down and up again
    collab = store.create_collaboration("c", "shopco", ["acme", "beta"], {}, "alice")
    _submit(store, collab, "acme")
    _submit(store, collab, "beta", name="other")
    _migrate(store, "0002", down=True)  # no clash: the collaboration-wide constraint fits
    _migrate(store, "head")
    assert _submit(store, collab, "beta") == 1
    assert _submit(store, collab, "acme") == 2


def _refused_downgrade(store: Store, match: str) -> None:
    with pytest.raises(RuntimeError, match=match):
        _migrate(store, "0002", down=True)
    _migrate(store, "head")  # the failed downgrade rolled back: still at head


def test_downgrade_refuses_when_two_orgs_share_a_template_name_and_version(store: Store) -> None:
    collab = store.create_collaboration("c", "shopco", ["acme", "beta"], {}, "alice")
    _submit(store, collab, "acme")
    _submit(store, collab, "beta")
    _refused_downgrade(store, "two orgs hold template 'conv' version 1")
    assert _submit(store, collab, "beta") == 2


def _register(store: Store, collab: Collaboration, org: str, name: str = "crm") -> str:
    dataset, _ = store.register_dataset_version(
        collab.id, name, org, "personal", {}, path=f"{org}.parquet", row_count=1,
        dropped_identifiers=0, size_bytes=1,
    )  # fmt: skip
    return dataset.id


def test_dataset_names_are_per_partner_but_never_shared_with_the_retailer(store: Store) -> None:
    collab = store.create_collaboration("c", "shopco", ["acme", "beta"], {}, "alice")
    acme, beta = _register(store, collab, "acme"), _register(store, collab, "beta")
    assert acme != beta
    crms = {d.owner_org: d.id for d in store.list_datasets(collab.id) if d.name == "crm"}
    assert crms == {"acme": acme, "beta": beta}
    assert _register(store, collab, "acme") == acme  # acme's next version
    assert [v.version for v in store.list_dataset_versions(acme)] == [1, 2]
    _register(store, collab, "shopco", name="exposures")
    with pytest.raises(Conflict, match="belongs to another organization"):
        _register(store, collab, "acme", name="exposures")  # a partner reads the retailer's
    with pytest.raises(Conflict, match="belongs to another organization"):
        _register(store, collab, "shopco")  # and the retailer's would shadow a partner's
    _refused_downgrade(store, "two orgs hold a dataset named 'crm'")


def test_downgrade_refuses_audit_records_in_the_new_format(
    store: Store, collab: Collaboration
) -> None:
    _refused_downgrade(store, "audit records were written in the 0003 format")
    assert store.verify_audit(collab.id).ok
