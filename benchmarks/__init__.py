"""The benchmark suite of cleanroom (``make bench`` = ``python -m benchmarks``).

Not part of the installed package: it may import every layer, DuckDB, PySpark and the store
directly. Each figure lives in its own ``fig_*`` module and returns
:class:`~benchmarks.common.Table` objects, which :mod:`benchmarks.doc` writes between the
marker comments of ``docs/benchmarks.md``.
"""
