"""The visibility table is complete and documented: every resource row names only real standings
and sights, every audit event has a row, and ``docs/concepts.md`` holds the tables as they are."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cleanroom import visibility
from cleanroom.events import EVENT_NAMES, EVENTS, Payload, event
from cleanroom.store import DatasetVersion

CONCEPTS = Path(__file__).resolve().parent.parent / "docs" / "concepts.md"


# Which resource each event is about and how its owner is found, as the product defines it: the
# classes in cleanroom.events declare it (ABOUT, OWNER, FIGURES) and the table is derived from them.
_EXPECTED_EVENTS = {
    "collaboration.created": ("collaboration", visibility.EVENT_ORG, ()),
    "collaboration.updated": ("collaboration", visibility.EVENT_ORG, ()),
    "partner.added": ("membership", visibility.PARTNER_ORG, ()),
    "partner.removed": ("membership", visibility.PARTNER_ORG, ()),
    "dataset.registered": ("dataset", visibility.EVENT_ORG, ("rows",)),
    "dataset.deleted": ("dataset", visibility.EVENT_ORG, ()),
    "dataset.expired": ("dataset", visibility.EVENT_ORG, ()),
    "suppression.added": ("suppression_list", visibility.EVENT_ORG, ()),
    "suppression.removed": ("suppression_list", visibility.EVENT_ORG, ()),
    "template.submitted": ("template", visibility.EVENT_ORG, ()),
    "template.approved": ("template", visibility.TEMPLATE_ORG, ()),
    "template.rejected": ("template", visibility.TEMPLATE_ORG, ()),
    "template.revoked": ("template", visibility.TEMPLATE_ORG, ()),
    "run.previewed": ("run", visibility.EVENT_ORG, ()),
    "run.created": ("run", visibility.EVENT_ORG, ()),
    "run.started": ("run", visibility.EVENT_ORG, ()),
    "run.succeeded": ("run", visibility.EVENT_ORG, ()),
    "run.failed": ("run", visibility.EVENT_ORG, ()),
    "run.cancelled": ("run", visibility.EVENT_ORG, ()),
    "run.flagged_for_review": ("run", visibility.EVENT_ORG, ()),
    "report.downloaded": ("report", visibility.RUN_ORG, ()),
    "budget.charged": ("budget_line", visibility.EVENT_ORG, ()),
    "budget.raised": ("budget_line", visibility.PARTNER_ORG, ()),
    "budget.set": ("budget_line", visibility.PARTNER_ORG, ()),
    "request.refused": ("request", visibility.EVENT_ORG, ()),
}


def test_every_audit_event_has_a_row() -> None:
    assert set(visibility.AUDIT_EVENTS) == set(EVENT_NAMES)
    for rule in visibility.AUDIT_EVENTS.values():
        assert rule.resource in visibility.RESOURCES
        assert rule.owner in (
            visibility.EVENT_ORG, visibility.TEMPLATE_ORG, visibility.RUN_ORG,
            visibility.PARTNER_ORG,
        )  # fmt: skip


def test_each_event_is_about_the_resource_the_product_defines() -> None:
    found = {
        name: (rule.resource, rule.owner, rule.figures)
        for name, rule in visibility.AUDIT_EVENTS.items()
    }
    assert found == _EXPECTED_EVENTS
    assert list(found) == list(_EXPECTED_EVENTS)  # the docs table's order


def test_an_event_class_must_say_what_it_is_about() -> None:
    class Nameless(Payload):
        """Not about anything."""

        NAME = "test.nameless"

    with pytest.raises(TypeError, match="ABOUT"):
        event(Nameless)
    assert "test.nameless" not in EVENTS


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
