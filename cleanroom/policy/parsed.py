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

MAX_CACHED = 256  # distinct template texts kept
# Syntax nodes kept in all (about 650 bytes each, so ~65 MB at most): hostile submissions of huge
# templates cannot grow the cache without bound. A shipped template has 100-300 nodes.
MAX_CACHED_NODES = 100_000
MAX_NODES_PER_ENTRY = MAX_CACHED_NODES // 10

_cache: OrderedDict[str, tuple[exp.Select, str, int]] = OrderedDict()
_cached_nodes = 0
_lock = threading.Lock()


def _remember(text: str, tree: exp.Select, normalized: str) -> None:
    global _cached_nodes
    nodes = sum(1 for _ in tree.walk())
    if nodes > MAX_NODES_PER_ENTRY:
        return
    entry = (tree.copy(), normalized, nodes)
    with _lock:
        old = _cache.pop(text, None)
        if old is not None:
            _cached_nodes -= old[2]
        _cache[text] = entry
        _cached_nodes += nodes
        while len(_cache) > MAX_CACHED or _cached_nodes > MAX_CACHED_NODES:
            _cached_nodes -= _cache.popitem(last=False)[1][2]


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
        _remember(text, tree, normalized)
    return tree, normalized
