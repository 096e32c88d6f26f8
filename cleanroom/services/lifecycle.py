"""When a collaboration and a membership allow work: start and end dates, ended memberships.

A collaboration is ``scheduled`` before its ``starts_at``, ``open`` until its ``ends_at`` and
``ended`` from then on (either date may be absent: no limit). Runs (and previews) need it open;
after the end no new datasets or templates are accepted either, while datasets already registered
follow their retention (``cleanroom purge-expired``) and everything stays readable. A partner whose
membership ended keeps read access to what it did, and may do nothing more in the collaboration.

>>> from datetime import UTC, datetime
>>> from cleanroom.store import Collaboration
>>> c = Collaboration("col_1", "q3", "shopco", {}, (), datetime(2026, 1, 1, tzinfo=UTC), "rita",
...                   ends_at=datetime(2026, 3, 1, tzinfo=UTC))
>>> status(c, datetime(2026, 2, 1, tzinfo=UTC)), status(c, datetime(2026, 3, 1, tzinfo=UTC))
('open', 'ended')
"""

from __future__ import annotations

from datetime import datetime

from cleanroom.errors import CollaborationClosed, MembershipEnded
from cleanroom.store import Collaboration

SCHEDULED, OPEN, ENDED = "scheduled", "open", "ended"


def status(collab: Collaboration, now: datetime) -> str:
    """``scheduled``, ``open`` or ``ended`` at ``now``."""
    if collab.starts_at is not None and now < collab.starts_at:
        return SCHEDULED
    if collab.ends_at is not None and now >= collab.ends_at:
        return ENDED
    return OPEN


def require_active_member(collab: Collaboration, org: str) -> None:
    """``MembershipEnded`` when ``org`` was a partner whose membership ended."""
    member = collab.membership(org)
    if member is not None and member.ended_at is not None:
        raise MembershipEnded(
            f"the membership of {org} in this collaboration ended at "
            f"{member.ended_at.isoformat()}; it can still read what it did, but it can no "
            "longer run, submit or upload anything here"
        )


def require_not_ended(collab: Collaboration, org: str, now: datetime) -> None:
    """For contributions (datasets, templates, approvals): an active member of a collaboration
    that has not ended. A scheduled collaboration may be prepared before it opens."""
    require_active_member(collab, org)
    if status(collab, now) == ENDED:
        assert collab.ends_at is not None
        raise CollaborationClosed(
            f"this collaboration ended at {collab.ends_at.isoformat()}; it accepts no new "
            "datasets, templates or runs (its retailer admin can extend the end date)"
        )


def require_can_run(collab: Collaboration, org: str, now: datetime) -> None:
    """For previews and runs: an active member of an open collaboration."""
    require_not_ended(collab, org, now)
    if status(collab, now) == SCHEDULED:
        assert collab.starts_at is not None
        raise CollaborationClosed(
            f"this collaboration opens at {collab.starts_at.isoformat()}; runs are refused "
            "before its start date (datasets and templates can be prepared meanwhile)"
        )
