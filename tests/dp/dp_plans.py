"""Release plans and engine tables the dp tests share (what ``policy`` and ``engine`` would hand
to ``dp`` for typical templates)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from cleanroom.plan import Col, GroupKey, Measurement, Op, Output, PostExpr, ReleasePlan

BUYERS = Measurement("buyers", "person_count", 0, 1, True, 1)
SALES = Measurement("sales", "sum", 0, 100, True, 1)  # money in cents, clamped to [0, 100]
SPEND = Measurement("spend", "sum", 0.0, 2.5, False, 1)


def out(name: str, expr: PostExpr | None = None) -> Output:
    return Output(name, expr if expr is not None else Col(name))


def key(name: str) -> Output:
    return Output(name, Col(name), is_group_key=True)


def attribution_plan(
    domain: Sequence[str] | None = ("c1", "c2", "c3"),
    *,
    measurements: Sequence[Measurement] = (BUYERS, SALES),
    min_users: int = 10,
    extra_outputs: Sequence[Output] = (),
    **kwargs: object,
) -> ReleasePlan:
    """Buyers and sales per campaign (public campaign ids when ``domain`` is given)."""
    public = None if domain is None else tuple(domain)
    outputs = (key("campaign"), *(out(m.column) for m in measurements), *extra_outputs)
    return ReleasePlan(
        group_keys=(GroupKey("campaign", public),),
        measurements=tuple(measurements),
        person_count="buyers",
        outputs=outputs,
        min_users_per_row=min_users,
        **kwargs,  # type: ignore[arg-type]
    )


def table(campaigns: Sequence[object], **columns: Sequence[object]) -> pa.Table:
    return pa.table({"campaign": list(campaigns), **{k: list(v) for k, v in columns.items()}})


def ratio(numerator: str, denominator: str) -> Op:
    return Op("/", (Col(numerator), Col(denominator)))
