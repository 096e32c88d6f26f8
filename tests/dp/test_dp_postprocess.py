"""Post-noise expressions (SQL semantics) and interval arithmetic for derived outputs."""

from __future__ import annotations

import pytest

from cleanroom.dp.intervals import Interval, half_width, interval, noisy_columns
from cleanroom.dp.postprocess import evaluate, order_indices
from cleanroom.errors import InternalError, InvalidRequest
from cleanroom.plan import Col, Lit, Op, OrderItem, PostExpr

ENV = {"a": 7, "b": 2, "z": 0, "f": 2.5, "n": None, "s": "x", "neg": -3.5}


def op(name: str, *args: PostExpr) -> Op:
    return Op(name, args)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (op("+", Col("a"), Col("b")), 9),
        (op("-", Col("a"), Col("b")), 5),
        (op("-", Col("a")), -7),
        (op("neg", Col("f")), -2.5),
        (op("*", Col("a"), Col("f")), 17.5),
        (op("/", Col("a"), Col("b")), 3.5),
        (op("/", Col("a"), Col("z")), None),
        (op("+", Col("a"), Col("n")), None),
        (op("round", Lit(2.5)), 3.0),
        (op("round", Lit(-2.5)), -3.0),
        (op("round", Lit(1.005), Lit(2)), 1.01),
        (op("round", Lit(1234), Lit(-2)), 1200),
        (op("floor", Col("neg")), -4.0),
        (op("ceil", Col("neg")), -3.0),
        (op("abs", Col("neg")), 3.5),
        (op("floor", Col("a")), 7),
        (op("coalesce", Col("n"), Col("b")), 2),
        (op("nullif", Col("a"), Lit(7)), None),
        (op("nullif", Col("a"), Lit(8)), 7),
        (op("least", Col("a"), Col("n"), Col("b")), 2),
        (op("greatest", Col("a"), Col("n"), Col("f")), 7),
        (op("least", Col("n")), None),
        (op(">", Col("a"), Col("b")), True),
        (op("<=", Col("a"), Col("n")), None),
        (op("=", Col("s"), Lit("x")), True),
        (op("and", Lit(True), Lit(None)), None),
        (op("and", Lit(False), Lit(None)), False),
        (op("or", Lit(True), Lit(None)), True),
        (op("not", Lit(None)), None),
        (op("NOT", Lit(False)), True),
    ],
)
def test_expressions_follow_sql(expr: PostExpr, expected: object) -> None:
    assert evaluate(expr, ENV) == expected


@pytest.mark.parametrize(
    "expr",
    [
        op("+", Col("s"), Lit(1)),
        op("<", Col("s"), Lit(1)),
        op("median", Col("a")),
        op("round", Col("f"), Lit(1.5)),
        op("+", Col("a")),
    ],
)
def test_bad_expressions_are_refused_without_echoing_values(expr: PostExpr) -> None:
    with pytest.raises(InvalidRequest) as caught:
        evaluate(expr, ENV)
    assert "x" not in caught.value.detail.split()


def test_unknown_columns_are_bugs() -> None:
    with pytest.raises(InternalError):
        evaluate(Col("missing"), ENV)


def test_order_by_is_stable_with_nulls_last_both_ways() -> None:
    envs = [{"v": 2, "k": "b"}, {"v": None, "k": "c"}, {"v": 5, "k": "a"}, {"v": 2, "k": "a"}]
    ascending = order_indices(envs, (OrderItem(Col("v")), OrderItem(Col("k"))))
    assert ascending == [3, 0, 2, 1]
    descending = order_indices(envs, (OrderItem(Col("v"), descending=True),))
    assert descending == [2, 0, 3, 1]


def test_interval_arithmetic() -> None:
    noisy = {"x": Interval(1.0, 3.0), "y": Interval(-2.0, 4.0), "p": Interval(2.0, 4.0)}
    env = {"x": 2, "y": 1, "p": 3, "k": 10}

    def bounds(expr: PostExpr) -> tuple[float, float] | None:
        result = interval(expr, env, noisy)
        return None if result is None else (result.lo, result.hi)

    assert bounds(op("+", Col("x"), Col("k"))) == (11.0, 13.0)
    assert bounds(op("-", Col("x"), Col("p"))) == (-3.0, 1.0)
    assert bounds(op("*", Col("x"), Col("y"))) == (-6.0, 12.0)
    assert bounds(op("/", Col("x"), Col("p"))) == (0.25, 1.5)
    assert bounds(op("/", Col("x"), Col("y"))) is None  # denominator may be zero
    assert bounds(op("abs", Col("y"))) == (0.0, 4.0)
    assert bounds(op("neg", Col("y"))) == (-4.0, 2.0)
    assert bounds(op("round", op("/", Col("x"), Col("p")), Lit(1))) == (0.3, 1.5)
    assert bounds(op("least", Col("x"), Col("p"))) == (1.0, 3.0)
    assert bounds(op("coalesce", Lit(None), Col("x"))) == (1.0, 3.0)
    assert bounds(op(">", Col("x"), Col("p"))) is None
    assert half_width(2, interval(Col("x"), env, noisy)) == 1.0
    assert half_width(0.5, Interval(0.25, 1.5)) == 1.0
    assert half_width(None, Interval(0.0, 1.0)) is None
    assert noisy_columns(op("/", Col("x"), op("+", Col("x"), Col("k"))), {"x", "y"}) == {"x"}
