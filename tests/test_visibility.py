"""The visibility table is complete and documented: every resource row names only real standings
and sights, every audit event has a row, and ``docs/concepts.md`` holds the tables as they are."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cleanroom import visibility
from cleanroom.events import EVENT_NAMES
from cleanroom.store import DatasetVersion

CONCEPTS = Path(__file__).resolve().parent.parent / "docs" / "concepts.md"


def test_every_audit_event_has_a_row() -> None:
    assert set(visibility.AUDIT_EVENTS) == set(EVENT_NAMES)
    for rule in visibility.AUDIT_EVENTS.values():
        assert rule.resource in visibility.RESOURCES
        assert rule.owner in (
            visibility.EVENT_ORG, visibility.TEMPLATE_ORG, visibility.RUN_ORG,
            visibility.PARTNER_ORG,
        )  # fmt: skip


def test_rows_use_known_standings_and_sights() -> None:
    for row in visibility.RESOURCES.values():
        assert set(row.sights) <= set(visibility.STANDINGS)
        assert set(row.sights.values()) <= {
            visibility.FULL, visibility.NO_FIGURES, visibility.HIDDEN,
        }  # fmt: skip
        assert row.sights[visibility.OWNER] == visibility.FULL
        if visibility.NO_FIGURES in row.sights.values():
            assert row.figures


def test_partners_never_see_each_other_and_the_retailer_sees_every_partners_objects() -> None:
    for name, row in visibility.RESOURCES.items():
        assert row.sights.get(visibility.OTHER_PARTNER, visibility.HIDDEN) == visibility.HIDDEN, (
            name
        )
        if visibility.OTHER_PARTNER in row.sights:  # a partner's kind of object
            assert row.sights[visibility.RETAILER] != visibility.HIDDEN, name


def test_an_unlisted_event_is_withheld_from_partners() -> None:
    seen = visibility.event_sight(
        "some.new_event", reader_org="beta", owner_org="acme", retailer_org="shopco"
    )
    assert seen == visibility.NO_DETAILS


def test_concepts_doc_holds_the_tables() -> None:
    text = CONCEPTS.read_text(encoding="utf-8")
    assert visibility.markdown_table() in text
    assert visibility.markdown_event_table() in text


def test_the_dataset_figures_are_what_a_version_drops_without_sizes() -> None:
    version = DatasetVersion(
        "ds_1", 1, "x.parquet", 10, 0, 100, datetime(2026, 1, 1, tzinfo=UTC), None, None, 2
    )
    dropped = set(version.to_dict(sizes=True)) - set(version.to_dict(sizes=False))
    assert dropped == set(visibility.RESOURCES["dataset"].figures)
