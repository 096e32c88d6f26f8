"""One PNG per report: each released value with its 95% interval bar, next to the exact answer.

Drawn with matplotlib's object API on the Agg canvas (no display, no pyplot global state), one
panel per output column because counts, cents and ratios have different scales.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cleanroom.demo.report_view import CellCheck, ReportComparison

MAX_LABEL = 28


def _label(keys: tuple[str, ...]) -> str:
    text = " / ".join(keys) or "all"
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def write_chart(comparison: ReportComparison, path: Path) -> Path:
    """Draw ``comparison`` into ``path`` (PNG) and return it."""
    columns = comparison.value_columns or ("(none)",)
    labels = list(dict.fromkeys(_label(c.keys) for c in comparison.cells)) or ["(no rows)"]
    width = max(6.0, 0.45 * len(labels) + 2.5)
    figure = Figure(figsize=(width, 2.6 * len(columns) + 0.8), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(columns), 1, squeeze=False)[:, 0]
    figure.suptitle(f"{comparison.name}: released (95% interval) vs exact")
    for ax, column in zip(axes, columns, strict=True):
        cells: list[CellCheck] = [c for c in comparison.cells if c.column == column]
        xs = [labels.index(_label(c.keys)) for c in cells]
        noisy = [c.noisy if c.noisy is not None else float("nan") for c in cells]
        errors = [c.half_width if c.half_width is not None else 0.0 for c in cells]
        ax.errorbar(
            [x - 0.12 for x in xs], noisy, yerr=errors, fmt="o", color="tab:blue",
            ecolor="tab:blue", capsize=3, markersize=4, label="released ± 95%",
        )  # fmt: skip
        truth = [(x + 0.12, c.exact) for x, c in zip(xs, cells, strict=True) if c.exact is not None]
        if truth:
            ax.plot([t[0] for t in truth], [t[1] for t in truth], "x", color="tab:red",
                    markersize=7, label="exact")  # fmt: skip
        ax.set_ylabel(column)
        ax.set_xticks(range(len(labels)))
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.set_xticklabels(labels, rotation=45 if len(labels) > 4 else 0, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)
    return path
