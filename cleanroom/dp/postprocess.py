"""Post-processing of noisy rows: output expressions, HAVING, ORDER BY, LIMIT.

Everything here runs on noisy values only, so it cannot weaken the privacy guarantee. Semantics
follow SQL (DuckDB's): NULL propagates through arithmetic and comparisons, ``/`` is true division
and division by zero gives NULL, AND/OR/NOT are three-valued, LEAST/GREATEST skip NULLs, ROUND
rounds half away from zero, ORDER BY puts NULLs last.

>>> from cleanroom.plan import Col, Lit, Op
>>> roas = Op("round", (Op("/", (Col("sales"), Col("spend"))), Lit(2)))
>>> evaluate(roas, {"sales": 1234, "spend": 100})
12.34
>>> evaluate(Op("/", (Col("sales"), Lit(0))), {"sales": 5}) is None
True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from cleanroom.errors import InternalError, InvalidRequest
from cleanroom.plan import Col, Lit, Op, OrderItem, PostExpr

Value = str | int | float | bool | None
Env = Mapping[str, Value]


def evaluate(expr: PostExpr, env: Env) -> Value:
    """The value of a post-noise expression for one row."""
    if isinstance(expr, Lit):
        return expr.value
    if isinstance(expr, Col):
        if expr.name not in env:
            raise InternalError("a post-noise expression names an unknown column; this is a bug")
        return env[expr.name]
    op = expr.op.lower()
    function = _OPERATIONS.get(op)
    if function is None:
        raise InvalidRequest(f"operation '{op}' is not supported after noise")
    return function([evaluate(a, env) for a in expr.args])


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def columns_of(expr: PostExpr) -> set[str]:
    """Every column name an expression reads."""
    if isinstance(expr, Col):
        return {expr.name}
    if isinstance(expr, Op):
        return set().union(*(columns_of(a) for a in expr.args))
    return set()


def _numbers(args: Sequence[Value], arity: int) -> list[int | float] | None:
    if len(args) != arity:
        raise InvalidRequest(f"an arithmetic operation after noise needs {arity} operand(s)")
    if any(a is None for a in args):
        return None
    if not all(is_number(a) for a in args):
        raise InvalidRequest("arithmetic after noise needs numeric operands")
    return [a for a in args if is_number(a)]  # type: ignore[misc]


def _arith(function: Callable[[int | float, int | float], int | float]) -> Callable[..., Value]:
    def apply(args: Sequence[Value]) -> Value:
        nums = _numbers(args, 2)
        return None if nums is None else function(nums[0], nums[1])

    return apply


def _divide(args: Sequence[Value]) -> Value:
    nums = _numbers(args, 2)
    if nums is None or nums[1] == 0:
        return None
    return nums[0] / nums[1]


def _minus(args: Sequence[Value]) -> Value:
    if len(args) == 1:
        return _negate(args)
    return _arith(lambda a, b: a - b)(args)


def _negate(args: Sequence[Value]) -> Value:
    nums = _numbers(args, 1)
    return None if nums is None else -nums[0]


def round_half_away(value: int | float, digits: int = 0) -> int | float:
    """SQL ROUND: half away from zero; integers stay integers."""
    if isinstance(value, int) and digits >= 0:
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return value
    try:
        rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    except InvalidOperation:  # beyond Decimal's precision: already coarser than requested
        return value
    return int(rounded) if isinstance(value, int) else float(rounded)


def _round(args: Sequence[Value]) -> Value:
    if len(args) not in (1, 2):
        raise InvalidRequest("round takes a value and optional digits")
    if any(a is None for a in args):
        return None
    digits = args[1] if len(args) == 2 else 0
    if not isinstance(digits, int) or isinstance(digits, bool):
        raise InvalidRequest("round's digits must be an integer")
    nums = _numbers(args[:1], 1)
    return None if nums is None else round_half_away(nums[0], digits)


def _unary(function: Callable[[float], float]) -> Callable[[Sequence[Value]], Value]:
    def apply(args: Sequence[Value]) -> Value:
        nums = _numbers(args, 1)
        if nums is None:
            return None
        value = nums[0]
        if isinstance(value, int) or not math.isfinite(value):
            return value if function is not abs else abs(value)
        return float(function(value))

    return apply


def _compare(function: Callable[[Any, Any], bool]) -> Callable[[Sequence[Value]], Value]:
    def apply(args: Sequence[Value]) -> Value:
        if len(args) != 2:
            raise InvalidRequest("a comparison after noise needs two operands")
        a, b = args
        if a is None or b is None:
            return None
        if not _comparable(a, b):
            raise InvalidRequest("a comparison after noise compares values of different types")
        return bool(function(a, b))

    return apply


def _comparable(a: Any, b: Any) -> bool:
    if is_number(a) and is_number(b):
        return True
    return type(a) is type(b)


def _and(args: Sequence[Value]) -> Value:
    if any(a is False for a in args):
        return False
    return None if any(a is None for a in args) else True


def _or(args: Sequence[Value]) -> Value:
    if any(a is True for a in args):
        return True
    return None if any(a is None for a in args) else False


def _not(args: Sequence[Value]) -> Value:
    if len(args) != 1:
        raise InvalidRequest("NOT takes one operand")
    return None if args[0] is None else not args[0]


def _coalesce(args: Sequence[Value]) -> Value:
    return next((a for a in args if a is not None), None)


def _nullif(args: Sequence[Value]) -> Value:
    if len(args) != 2:
        raise InvalidRequest("nullif takes two operands")
    a, b = args
    return None if a is not None and b is not None and a == b else a


def _extreme(pick: Callable[..., Any]) -> Callable[[Sequence[Value]], Value]:
    def apply(args: Sequence[Value]) -> Value:
        present = [a for a in args if a is not None]
        if not present:
            return None
        if not all(_comparable(present[0], a) for a in present):
            raise InvalidRequest("least/greatest after noise mixes values of different types")
        result: Value = pick(present)
        return result

    return apply


_OPERATIONS: dict[str, Callable[[Sequence[Value]], Value]] = {
    "+": _arith(lambda a, b: a + b),
    "-": _minus,
    "*": _arith(lambda a, b: a * b),
    "/": _divide,
    "neg": _negate,
    "=": _compare(lambda a, b: a == b),
    "<>": _compare(lambda a, b: a != b),
    "!=": _compare(lambda a, b: a != b),
    "<": _compare(lambda a, b: a < b),
    "<=": _compare(lambda a, b: a <= b),
    ">": _compare(lambda a, b: a > b),
    ">=": _compare(lambda a, b: a >= b),
    "and": _and,
    "or": _or,
    "not": _not,
    "round": _round,
    "floor": _unary(math.floor),
    "ceil": _unary(math.ceil),
    "abs": _unary(abs),
    "coalesce": _coalesce,
    "nullif": _nullif,
    "least": _extreme(min),
    "greatest": _extreme(max),
}


def order_indices(envs: Sequence[Env], order_by: Sequence[OrderItem]) -> list[int]:
    """Positions of rows (given by their evaluation environments) in ORDER BY order; NULLs last."""
    keys = [[evaluate(item.expr, env) for item in order_by] for env in envs]

    def compare(i: int, j: int) -> int:
        for item, x, y in zip(order_by, keys[i], keys[j], strict=True):
            if x is None or y is None:
                if x is None and y is None:
                    continue
                return 1 if x is None else -1
            if not _comparable(x, y):
                raise InvalidRequest("ORDER BY compares values of different types")
            if x == y:
                continue
            less = x < y  # type: ignore[operator]
            return (1 if less else -1) if item.descending else (-1 if less else 1)
        return 0

    return sorted(range(len(envs)), key=functools.cmp_to_key(compare))
