"""Migration 0005 (run weights): a run keeps its request's weights; down to 0004 and up again,
and the downgrade refusing while an unfinished run has weights. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from cleanroom.store import EXECUTION_FAILED, Collaboration, Store, Template
from tests.store.test_store_migrations import _migrate


def _weighted_run(store: Store, c: Collaboration, t: Template, weights: dict[str, float]) -> str:
    creation = store.create_run_with_charge(
        c.id, t.id, t.version, "acme", "bob", {}, 1.0, 0.0, weights=weights
    )
    return creation.run.id


def _columns(store: Store) -> set[str]:
    return {c["name"] for c in sa.inspect(store.engine).get_columns("runs")}


def test_a_run_keeps_its_weights(store: Store, collab: Collaboration, template: Template) -> None:
    rid = _weighted_run(store, collab, template, {"sales": 3.0})
    assert store.get_run(rid).weights == {"sales": 3.0}
    plain = store.create_run_with_charge(
        collab.id, template.id, template.version, "acme", "bob", {}, 1.0, 0.0
    ).run
    assert store.get_run(plain.id).weights == {}
    assert "weights" not in plain.to_dict()
    with store.engine.connect() as conn:  # no weights: SQL NULL, not a JSON null
        stored = conn.execute(sa.text("SELECT COUNT(*) FROM runs WHERE weights IS NULL")).scalar()
    assert stored == 1


def test_downgrade_refuses_while_an_unfinished_run_has_weights(
    store: Store, collab: Collaboration, template: Template
) -> None:
    rid = _weighted_run(store, collab, template, {"sales": 3.0})
    with pytest.raises(RuntimeError, match=f"run {rid} is not finished and has weights"):
        _migrate(store, "0004", down=True)
    _migrate(store, "head")  # the failed downgrade rolled back: still at head
    assert "weights" in _columns(store)
    store.fail_run(rid, *EXECUTION_FAILED)
    _migrate(store, "0004", down=True)
    assert "weights" not in _columns(store)
    _migrate(store, "head")
    assert store.get_run(rid).weights == {}  # the finished run's weights went with the column
