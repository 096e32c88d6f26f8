"""Run parameters on the command line: ``--param name=value``, typed by the template's own
declarations, so ``campaign_ids=c1,c2`` is a list and ``window_days=14`` an integer. A value
written as JSON (``'campaign_ids=["c1","c2"]'``) is accepted as well.

>>> decl = [{"name": "campaign_ids", "type": "list[str]"}, {"name": "window_days", "type": "int"}]
>>> parse_params(("campaign_ids=c1,c2", "window_days=14"), decl)
{'campaign_ids': ['c1', 'c2'], 'window_days': 14}
>>> parse_params(('campaign_ids=["c1"]',), decl)
{'campaign_ids': ['c1']}
>>> try:
...     parse_params(("window_days=two", "brand=acme"), decl)
... except BadParameters as bad:
...     for problem in bad.problems:
...         print(problem)
parameter 'window_days' must be an integer
parameter 'brand' is not declared (declared: campaign_ids, window_days)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import click

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")
_PHRASE = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "date": "a date (YYYY-MM-DD)",
    "timestamp": "an ISO-8601 timestamp",
}


class BadParameters(Exception):
    """Parameter values that do not fit the template (``problems``, one phrase each)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def _scalar(type_: str, text: str) -> Any:
    if type_ == "int":
        return int(text)
    if type_ == "float":
        return float(text)
    if type_ == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(text)
    return text  # str, date and timestamp travel as text; the server checks their form


def typed_value(type_: str, raw: str) -> Any:
    """``raw`` as a value of ``type_``: JSON when it is JSON of the right shape, else parsed
    (lists split on commas). ``ValueError`` when it does not fit."""
    try:
        as_json = json.loads(raw)
    except json.JSONDecodeError:
        as_json = None
    if type_.startswith("list["):
        if isinstance(as_json, list):
            return as_json
        items = [item.strip() for item in raw.split(",")]
        if not raw.strip() or any(not item for item in items):
            raise ValueError(raw)
        return [_scalar(type_[5:-1], item) for item in items]
    if as_json is not None and not isinstance(as_json, list | dict) and type_ != "str":
        if type_ == "bool" and not isinstance(as_json, bool):
            return _scalar(type_, raw)
        return as_json
    if type_ == "str" and isinstance(as_json, str):
        return as_json
    return _scalar(type_, raw)


def parse_params(
    pairs: Sequence[str], declared: Sequence[Mapping[str, Any]] | None
) -> dict[str, Any]:
    """``name=value`` pairs typed by ``declared`` (the template's ``parameters``). Every problem
    is reported at once (:class:`BadParameters`); with ``declared`` None, values are JSON when
    they parse, else text."""
    types = {str(p.get("name")): str(p.get("type")) for p in declared or ()}
    out: dict[str, Any] = {}
    problems: list[str] = []
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            problems.append(f"expected NAME=VALUE, got {pair!r}")
            continue
        if declared is None:
            try:
                out[name] = json.loads(raw)
            except json.JSONDecodeError:
                out[name] = raw
            continue
        if name not in types:
            known = ", ".join(types) or "none"
            problems.append(f"parameter '{name}' is not declared (declared: {known})")
            continue
        type_ = types[name]
        try:
            out[name] = typed_value(type_, raw)
        except ValueError:
            if type_.startswith("list["):
                inner = _PHRASE.get(type_[5:-1], type_[5:-1])
                problems.append(f"parameter '{name}' must be a comma-separated list of {inner}s")
            else:
                problems.append(f"parameter '{name}' must be {_PHRASE.get(type_, type_)}")
    if problems:
        raise BadParameters(problems)
    return out


def parse_numbers(pairs: Sequence[str], option: str) -> dict[str, float]:
    """``name=number`` pairs (``--weight``, ``--target``); the server checks the names and the
    ranges, so only the form is checked here (a usage error names the bad pair)."""
    out: dict[str, float] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not sep or not name.strip() or not math.isfinite(value):
            raise click.BadParameter(f"expected NAME=NUMBER, got {pair!r}", param_hint=option)
        out[name.strip()] = value
    return out
