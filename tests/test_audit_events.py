"""The audit event registry (``cleanroom.events``): every event written anywhere is registered
with a typed payload and a docstring of its own, and docs/api.md lists every event with its
fields. Regenerate the docs table with ``CLEANROOM_WRITE_EVENT_DOCS=1`` and this test."""

from __future__ import annotations

import os
import re
from dataclasses import fields
from pathlib import Path

import pytest

from cleanroom import visibility
from cleanroom.events import (
    EVENT_NAMES,
    EVENTS,
    AuditEvent,
    BudgetRaised,
    CollaborationUpdated,
    DatasetDeleted,
    PartnerAdded,
    PartnerRemoved,
    Payload,
)

ROOT = Path(__file__).resolve().parents[1]
API_DOC = ROOT / "docs" / "api.md"
START, END = "<!-- audit-events:start -->", "<!-- audit-events:end -->"
_PLAIN = re.compile(r"""AuditEvent\(\s*["']([a-z_.]+)["']""")
_FIXTURE = re.compile(r"""\bevent\(\s*["']([a-z_.]+)["']""")  # tests/store/store_fixtures.event
_TYPED = re.compile(r"\b([A-Z][A-Za-z]+)(?:Event)?\((?:[^()]|\([^()]*\))*\)\s*\.by\(", re.S)


def _sources() -> list[Path]:
    return sorted((ROOT / "cleanroom").rglob("*.py"))


def test_every_event_written_anywhere_is_registered() -> None:
    files = [*_sources(), *(p for p in (ROOT / "tests").rglob("*.py") if p != Path(__file__))]
    texts = [p.read_text(encoding="utf-8") for p in files]
    plain = {m for t in texts for pattern in (_PLAIN, _FIXTURE) for m in pattern.findall(t)}
    assert plain, "the scan found no event names: is the pattern still right?"
    assert plain <= EVENT_NAMES, sorted(plain - EVENT_NAMES)


def test_the_server_builds_events_from_typed_payloads() -> None:
    """Only cleanroom.events itself spells an event as a bare name with a dict of details."""
    bare = [p for p in _sources() if p.name != "events.py" and _PLAIN.search(p.read_text())]
    assert bare == []
    classes = {cls.__name__ for cls in EVENTS.values()}
    used = {m for p in _sources() for m in _TYPED.findall(p.read_text(encoding="utf-8"))}
    assert used & classes, "the scan found no typed events: is the pattern still right?"


def test_every_event_has_a_docstring_fields_and_a_visibility_rule() -> None:
    for name, cls in EVENTS.items():
        assert name == cls.NAME
        doc = cls.__doc__ or ""
        assert doc, f"{name} needs a docstring"
        assert not doc.startswith(f"{cls.__name__}("), f"{name} needs a docstring"
        assert issubclass(cls, Payload)
    assert set(EVENTS) == set(visibility.AUDIT_EVENTS)


def test_unknown_event_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown audit event"):
        AuditEvent("run.exploded", "bob", "acme")


@pytest.mark.parametrize(
    ("payload", "details"),
    [
        (PartnerAdded(), {}),
        (PartnerAdded(reason="renewal"), {"reason": "renewal"}),
        (PartnerRemoved(purge_data=False), {"purge_data": False}),
        (BudgetRaised(), {}),
        (DatasetDeleted(name="crm"), {"name": "crm"}),
        (DatasetDeleted(name="crm", cause="partner.removed"),
         {"name": "crm", "cause": "partner.removed"}),
        (CollaborationUpdated(changes=[], loosening=[], allow_loosening=False),
         {"changes": [], "loosening": [], "allow_loosening": False}),
    ],
)  # fmt: skip
def test_optional_fields_left_empty_are_not_written(
    payload: Payload, details: dict[str, object]
) -> None:
    event = payload.by("alice", "shopco")
    assert (event.name, event.actor, event.org, dict(event.details)) == (
        payload.NAME, "alice", "shopco", details,
    )  # fmt: skip


def render_table() -> str:
    lines = [
        "| Event | What happened | Details given | Details the store adds |",
        "| --- | --- | --- | --- |",
    ]
    for name in sorted(EVENTS):
        cls = EVENTS[name]
        what = " ".join((cls.__doc__ or "").split()).replace("``", "`").replace("|", "\\|")
        given = ", ".join(
            f"`{f.name}` ({str(f.type).replace(' | None', '')}"
            + (", optional)" if f.default is None else ")")
            for f in fields(cls)
        ).replace("|", "\\|")
        added = ", ".join(f"`{f}`" for f in cls.STORE_FACTS)
        lines.append(f"| `{name}` | {what} | {given or '—'} | {added or '—'} |")
    return "\n".join(lines)


def test_the_api_docs_list_every_event_with_its_fields() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    assert START in text, f"docs/api.md needs the {START} ... {END} block"
    assert END in text, f"docs/api.md needs the {START} ... {END} block"
    head, rest = text.split(START, 1)
    current, tail = rest.split(END, 1)
    expected = f"\n{render_table()}\n"
    if os.environ.get("CLEANROOM_WRITE_EVENT_DOCS") == "1":
        API_DOC.write_text(head + START + expected + END + tail, encoding="utf-8")
        current = expected
    assert current == expected, (
        "docs/api.md's event table is stale: run with CLEANROOM_WRITE_EVENT_DOCS=1"
    )
