"""PNG plots of experiment results (matplotlib, the ``experiments`` extra).

- :func:`plot_over_time`: each treatment's relative difference against the control at every
  look, with its fixed-horizon 95% interval and its always-valid (sequential) interval;
- :func:`plot_offline`: each metric's relative difference between two evaluation runs with
  its interval.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot state, no display).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from flightdeck.core.errors import ConfigError
from flightdeck.experiments.analysis import MetricResult
from flightdeck.experiments.offline import OfflineComparison

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(rows: int) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # optional dependency
        raise ConfigError("plots need matplotlib: pip install 'flightdeck[experiments]'") from None
    return Figure(figsize=(8, 2.6 * max(rows, 1)), layout="constrained")


def plot_over_time(
    series: Sequence[tuple[str, Sequence[tuple[float, MetricResult]]]], path: Path, title: str
) -> Path:
    """Write a PNG with one panel per metric: ``series`` is (metric name, looks), a look being
    (POSIX time in seconds, the metric's result up to then). Returns ``path``."""
    figure = _figure(len(series))
    axes = figure.subplots(max(len(series), 1), 1, squeeze=False)[:, 0]
    for ax, (name, looks) in zip(axes, series, strict=False):
        times = [datetime.fromtimestamp(t, UTC) for t, _ in looks]
        variants = {c.variant for _, result in looks for c in result.comparisons}
        for variant in sorted(variants):
            points = [
                (when, c)
                for when, (_, result) in zip(times, looks, strict=True)
                for c in result.comparisons
                if c.variant == variant
            ]
            when = [p[0] for p in points]
            rel = [100 * c.difference.relative for _, c in points]
            line = ax.plot(when, rel, marker="o", label=f"{variant} vs control")[0]
            ax.fill_between(
                when,
                [100 * c.sequential_relative_ci[0] for _, c in points],
                [100 * c.sequential_relative_ci[1] for _, c in points],
                alpha=0.15,
                color=line.get_color(),
                label=f"{variant}: always-valid 95%",
            )
            ax.fill_between(
                when,
                [100 * c.difference.relative_ci[0] for _, c in points],
                [100 * c.difference.relative_ci[1] for _, c in points],
                alpha=0.3,
                color=line.get_color(),
                label=f"{variant}: fixed-horizon 95%",
            )
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_title(name)
        ax.set_ylabel("relative difference, %")
        ax.legend(fontsize="small")
    figure.suptitle(title)
    figure.savefig(path, format="png", dpi=100)
    return path


def plot_offline(comparisons: Sequence[OfflineComparison], path: Path, title: str) -> Path:
    """Write a PNG of each metric's relative difference (B against A) with its 95% interval.
    Returns ``path``."""
    figure = _figure(1)
    ax = figure.subplots()
    names = [c.metric for c in comparisons]
    rel = [100 * c.difference.relative for c in comparisons]
    low = [100 * (c.difference.relative - c.difference.relative_ci[0]) for c in comparisons]
    high = [100 * (c.difference.relative_ci[1] - c.difference.relative) for c in comparisons]
    ax.errorbar(rel, range(len(names)), xerr=[low, high], fmt="o", capsize=4)
    ax.set_yticks(range(len(names)), names)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("relative difference B vs A, %")
    ax.set_title(title)
    figure.savefig(path, format="png", dpi=100)
    return path
