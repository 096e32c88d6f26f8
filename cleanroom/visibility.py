"""Who sees what, as data: every resource and every audit event, by the reader's standing.

``permissions`` says which roles may call an action at all; this table says, for a member allowed
to read, how much of one object it sees. Both are checked in ``services`` (``services.access``
for permissions, :func:`sight` here for visibility), never in ``web`` or ``cli``.

A reader's **standing** towards an object depends only on orgs, never on the role (a role that may
not read a kind of object is refused by ``permissions`` first):

- ``owner``: the reader's org owns the object (the partner that submitted a template, started a
  run, registered a dataset; the retailer for what it registered or created);
- ``retailer``: the reader is a member of the retailer org (retailer admin, retailer auditor) and
  the object belongs to a partner;
- ``partner``: the reader is a member of a partner org and the object belongs to the retailer;
- ``other_partner``: the reader is a member of a partner org and the object belongs to another
  partner. Partners are often competitors: they see nothing of each other beyond membership.

What a standing sees of an object is a **sight**:

- ``full``: the whole record;
- ``no_figures``: the record without its exact figures (:attr:`Visibility.figures`);
- ``hidden``: nothing; a read is ``404 not_found`` (as for an unknown id) and lists leave it out.

An audit event follows the resource it is about (:data:`AUDIT_EVENTS`), except that a ``hidden``
event stays in the reader's copy of the log as ``no_details``: its position, hashes, name, org and
time, without actor or details, so the hash chain still verifies end to end for every member.

>>> sight("template", reader_org="beta", owner_org="acme", retailer_org="shopco")
'hidden'
>>> sight("dataset", reader_org="shopco", owner_org="acme", retailer_org="shopco")
'no_figures'
>>> event_sight("template.approved", reader_org="beta", owner_org="acme", retailer_org="shopco")
'no_details'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cleanroom.events import EVENT_ORG as EVENT_ORG
from cleanroom.events import EVENTS
from cleanroom.events import PARTNER_ORG as PARTNER_ORG
from cleanroom.events import RUN_ORG as RUN_ORG
from cleanroom.events import TEMPLATE_ORG as TEMPLATE_ORG

OWNER, RETAILER, PARTNER, OTHER_PARTNER = "owner", "retailer", "partner", "other_partner"
STANDINGS = (OWNER, RETAILER, PARTNER, OTHER_PARTNER)
FULL, NO_FIGURES, HIDDEN, NO_DETAILS = "full", "no_figures", "hidden", "no_details"


@dataclass(frozen=True)
class Visibility:
    """What each standing sees of one kind of resource (a standing not listed sees nothing)."""

    owned_by: str  # who owns it, in words (for the docs)
    sights: Mapping[str, str]
    figures: tuple[str, ...] = ()  # keys withheld under ``no_figures``
    note: str = ""


def _v(
    owned_by: str, note: str, sights: Mapping[str, str], figures: tuple[str, ...] = ()
) -> Visibility:
    return Visibility(owned_by, MappingProxyType(dict(sights)), figures, note)


# A partner's object: its org and the retailer org see it, other partners do not.
_PARTNERS_OWN = {OWNER: FULL, RETAILER: FULL, OTHER_PARTNER: HIDDEN}
DATASET_FIGURES = ("row_count", "dropped_identifiers", "bytes", "max_rows_per_person")

RESOURCES: Mapping[str, Visibility] = MappingProxyType(
    {
        "collaboration": _v(
            "the retailer",
            "name, policy, dates and member orgs: the terms every member agreed to",
            {OWNER: FULL, PARTNER: FULL},
        ),
        "dataset": _v(
            "the org that registered it",
            "spec, versions, timestamps; exact figures (rows, dropped identifiers, bytes, most "
            "rows per person) for the owner org only",
            {OWNER: FULL, RETAILER: NO_FIGURES, PARTNER: NO_FIGURES, OTHER_PARTNER: HIDDEN},
            DATASET_FIGURES,
        ),
        "suppression_list": _v(
            "the retailer",
            "opt-outs: written, never read back (the owner reads its size)",
            {OWNER: FULL, PARTNER: HIDDEN},
        ),
        "template": _v(
            "the partner that submitted it",
            "SQL, parameters, bounds, analysis, status; names and versions are per org",
            _PARTNERS_OWN,
        ),
        "run": _v(
            "the partner that started it", "parameters, privacy loss, status, error", _PARTNERS_OWN
        ),
        "report": _v("the run's partner", "rows, accuracy, mechanisms", _PARTNERS_OWN),
        "budget_line": _v("its partner", "total, spent, remaining", _PARTNERS_OWN),
        "membership": _v(
            "its partner",
            "a partner's joining and leaving, with the retailer's reasons (that it is a member "
            "is on the collaboration)",
            _PARTNERS_OWN,
        ),
        "governance_kpi": _v(
            "the org whose data it counts",
            "opt-in rates, suppression matches, rows a run's consent filter removed: exact "
            "figures of one org's own datasets, for that org only (a partner gets the retailer's "
            "opt-in rate with DP from the opt_in_rate template instead)",
            {OWNER: FULL, RETAILER: HIDDEN, PARTNER: HIDDEN},
        ),
        "request": _v(
            "the org that sent it",
            "a refused request: action and code",
            {OWNER: FULL, RETAILER: FULL, PARTNER: FULL, OTHER_PARTNER: HIDDEN},
        ),
    }
)


@dataclass(frozen=True)
class EventVisibility:
    """Which resource an audit event is about, how its owner is found, and its figure keys."""

    resource: str
    owner: str = EVENT_ORG
    # Figures that events written by earlier versions kept in their hashed details; withheld
    # (named in ``redacted``) from standings that see the resource ``no_figures``.
    figures: tuple[str, ...] = ()


# Derived from the event classes (``ABOUT``, ``OWNER``, ``FIGURES`` in ``cleanroom.events``), in
# their order: an event's name, payload and visibility have one home.
AUDIT_EVENTS: Mapping[str, EventVisibility] = MappingProxyType(
    {name: EventVisibility(cls.ABOUT, cls.OWNER, cls.FIGURES) for name, cls in EVENTS.items()}
)
# A record whose name no class registers (written by another version) is seen like a partner's
# run: in full by its org and the retailer, without details by everyone else.
_UNLISTED_EVENT = EventVisibility("run")


def standing(*, reader_org: str, owner_org: str | None, retailer_org: str) -> str:
    """The reader's standing towards an object owned by ``owner_org`` (None: unknown owner,
    treated as another partner's by partners)."""
    if reader_org == owner_org:
        return OWNER
    if reader_org == retailer_org:
        return RETAILER
    if owner_org == retailer_org:
        return PARTNER
    return OTHER_PARTNER


def sight(resource: str, *, reader_org: str, owner_org: str | None, retailer_org: str) -> str:
    """``full``, ``no_figures`` or ``hidden``: what the reader sees of one ``resource``."""
    where = standing(reader_org=reader_org, owner_org=owner_org, retailer_org=retailer_org)
    return RESOURCES[resource].sights.get(where, HIDDEN)


def sees(resource: str, *, reader_org: str, owner_org: str | None, retailer_org: str) -> bool:
    """True unless the object is ``hidden`` from the reader."""
    found = sight(resource, reader_org=reader_org, owner_org=owner_org, retailer_org=retailer_org)
    return found != HIDDEN


def event_rule(name: str) -> EventVisibility:
    """The row of :data:`AUDIT_EVENTS` for an event name."""
    return AUDIT_EVENTS.get(name, _UNLISTED_EVENT)


def event_sight(name: str, *, reader_org: str, owner_org: str | None, retailer_org: str) -> str:
    """``full``, ``no_figures`` or ``no_details``: how the reader sees one audit event."""
    rule = event_rule(name)
    found = sight(
        rule.resource, reader_org=reader_org, owner_org=owner_org, retailer_org=retailer_org
    )
    return NO_DETAILS if found == HIDDEN else found


_SIGHT_WORDS = {
    FULL: "full",
    NO_FIGURES: "without exact figures",
    HIDDEN: "hidden",
    NO_DETAILS: "without actor and details",
}
_STANDING_WORDS = {
    OWNER: "owner org",
    RETAILER: "retailer org",
    PARTNER: "a partner (retailer's object)",
    OTHER_PARTNER: "another partner",
}
_OWNER_WORDS = {
    EVENT_ORG: "the event's org",
    TEMPLATE_ORG: "the template's org",
    RUN_ORG: "the run's org",
    PARTNER_ORG: "the partner it names",
}


def _cells(sights: Mapping[str, str], words: Mapping[str, str]) -> list[str]:
    return [words[sights[s]] if s in sights else "—" for s in STANDINGS]


def markdown_table() -> str:
    """The resource table as Markdown (``docs/concepts.md`` holds exactly this; a test checks)."""
    head = ["resource", "owned by", *(_STANDING_WORDS[s] for s in STANDINGS), "what it holds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in RESOURCES.items():
        cells = [f"`{name}`", row.owned_by, *_cells(row.sights, _SIGHT_WORDS), row.note]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_event_table() -> str:
    """The audit event table as Markdown (in ``docs/concepts.md`` too)."""
    head = ["event", "about", "owned by", *(_STANDING_WORDS[s] for s in STANDINGS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, rule in AUDIT_EVENTS.items():
        sights = {
            where: NO_DETAILS if found == HIDDEN else found
            for where, found in RESOURCES[rule.resource].sights.items()
        }
        cells = [f"`{name}`", f"`{rule.resource}`", _OWNER_WORDS[rule.owner]]
        lines.append("| " + " | ".join([*cells, *_cells(sights, _SIGHT_WORDS)]) + " |")
    return "\n".join(lines)
