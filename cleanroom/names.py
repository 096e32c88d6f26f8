"""Names the rewrite and the engine give things, and the rule for names users choose.

Everything internal (the views of a run's datasets, the suppression table, helper columns) starts
with :data:`RESERVED_PREFIX`, and no name a user chooses (dataset, column, alias, CTE) may: nothing
a template spells can bind to something internal.

>>> dataset_view("orders"), is_reserved_name("CR_x")
('cr_ds_orders', True)
"""

from __future__ import annotations

import re

PID = "pid"  # the re-keyed identifier column of a personal dataset
# In a consent analysis (``-- consent: <dataset>``), that dataset's consent for the template's
# purpose as a total boolean: COALESCE(consent IS TRUE, FALSE).
CONSENTED = "consented"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# Everything the rewrite and the engine name starts with this prefix, and no name a user chooses
# (dataset, column, alias, CTE) may: nothing a template spells can bind to something internal.
RESERVED_PREFIX = "cr_"
# Names the engine gives the data of a run (see policy's rewrite and engine's views).
SUPPRESSION_VIEW = "cr_suppressed"


def is_reserved_name(name: str) -> bool:
    """Does ``name`` (any case) lie in the namespace of the rewrite and the engine?"""
    return name.lower().startswith(RESERVED_PREFIX)


def dataset_view(name: str) -> str:
    """The engine view that holds dataset ``name`` for one run (templates never see it)."""
    return f"cr_ds_{name}"
