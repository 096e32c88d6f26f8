"""The compatibility surface for the domain value objects, which live by concept:

- :mod:`cleanroom.specs`: dataset and column specs, template parameter specs, collaboration policy;
- :mod:`cleanroom.plan`: the release plan that ``policy`` hands to ``dp``, and the compiled query;
- :mod:`cleanroom.names`: the names the rewrite and the engine use, and the reserved prefix;
- :mod:`cleanroom.permissions`: roles and the calling :class:`Principal`.

This module only re-exports them so that existing ``from cleanroom.types import ...`` lines keep
working; new code imports from the module that defines the name.
"""

from cleanroom.names import (
    NAME_RE,
    PID,
    RESERVED_PREFIX,
    SUPPRESSION_VIEW,
    dataset_view,
    is_reserved_name,
)
from cleanroom.permissions import ROLES, Principal
from cleanroom.plan import (
    Col,
    CompiledQuery,
    GroupKey,
    Lit,
    Measurement,
    MeasurementKind,
    Op,
    OrderItem,
    Output,
    PostExpr,
    ReleasePlan,
)
from cleanroom.specs import (
    COLUMN_ROLES,
    DATASET_KINDS,
    FAIRNESS_PURPOSE,
    METRIC_TYPES,
    PARAM_TYPES,
    RELEASE_AGGREGATES,
    CollaborationPolicy,
    ColumnSpec,
    DatasetSpec,
    LiftSpec,
    ParamSpec,
    parse_lift,
)

__all__ = [
    "COLUMN_ROLES",
    "DATASET_KINDS",
    "FAIRNESS_PURPOSE",
    "METRIC_TYPES",
    "NAME_RE",
    "PARAM_TYPES",
    "PID",
    "RELEASE_AGGREGATES",
    "RESERVED_PREFIX",
    "ROLES",
    "SUPPRESSION_VIEW",
    "Col",
    "CollaborationPolicy",
    "ColumnSpec",
    "CompiledQuery",
    "DatasetSpec",
    "GroupKey",
    "LiftSpec",
    "Lit",
    "Measurement",
    "MeasurementKind",
    "Op",
    "OrderItem",
    "Output",
    "ParamSpec",
    "PostExpr",
    "Principal",
    "ReleasePlan",
    "dataset_view",
    "is_reserved_name",
    "parse_lift",
]
