"""Parsed templates, cached per text: a template is parsed once per process, then copied.

A run compiles the template its partner approved, usually twice (when the run is created and when
the worker executes it), and the same few templates run again and again; parsing is most of a
compile's cost and copying the tree a fraction of it. Only texts that parse without a violation
are cached, so every rejection is still found (with its positions) by a fresh parse.

>>> from cleanroom.policy.violations import ViolationCollector
>>> a = parsed_template("SELECT COUNT(DISTINCT pid) FROM t", ViolationCollector(""))
>>> b = parsed_template("SELECT COUNT(DISTINCT pid) FROM t", ViolationCollector(""))
>>> a is not None and b is not None and a[0] is not b[0] and a[1] == b[1]
True
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlglot import exp

from cleanroom.policy.parse import parse_select
from cleanroom.policy.pin import normalized_sql
from cleanroom.policy.violations import ViolationCollector

MAX_CACHED = 256  # distinct template texts kept (each tree is a few hundred nodes at most)

_cache: OrderedDict[str, tuple[exp.Select, str]] = OrderedDict()
_lock = threading.Lock()


def parsed_template(text: str, collector: ViolationCollector) -> tuple[exp.Select, str] | None:
    """A private copy of ``text``'s parsed tree and its normalized SQL (for the pin), or None
    with the reasons in ``collector``."""
    with _lock:
        hit = _cache.get(text)
        if hit is not None:
            _cache.move_to_end(text)
    if hit is not None:
        return hit[0].copy(), hit[1]
    before = len(collector.violations)
    tree = parse_select(text, collector)
    if tree is None:
        return None
    normalized = normalized_sql(tree)
    if len(collector.violations) == before:
        with _lock:
            _cache[text] = (tree.copy(), normalized)
            while len(_cache) > MAX_CACHED:
                _cache.popitem(last=False)
    return tree, normalized
