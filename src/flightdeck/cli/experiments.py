"""``flightdeck experiments``: A/B tests (issue #18). ``offline`` compares two evaluation runs
(two result files); the analysis is :mod:`flightdeck.experiments.offline`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from flightdeck.cli.context import one_line_errors
from flightdeck.experiments.offline import OfflineComparison, compare_runs, read_run

app = typer.Typer(
    help="A/B tests: define, start, stop and analyse experiments.", no_args_is_help=True
)


def _interval(low: float, high: float, scale: float = 1.0, unit: str = "") -> str:
    return f"[{low * scale:+.4g}{unit}, {high * scale:+.4g}{unit}]"


def offline_table(comparisons: list[OfflineComparison], title: str) -> Table:
    """A rich table of run B against run A, one row per metric."""
    table = Table("metric", "A", "B", "B - A (95% CI)", "relative (95% CI)", "p", title=title)
    for c in comparisons:
        d = c.difference
        table.add_row(
            c.metric,
            f"{c.mean_a:.4g}",
            f"{c.mean_b:.4g}",
            f"{d.absolute:+.4g} {_interval(*d.absolute_ci)}",
            f"{100 * d.relative:+.2f}% {_interval(*d.relative_ci, scale=100, unit='%')}",
            f"{d.p_value:.3g}",
        )
    return table


@app.command("offline")
@one_line_errors
def offline(
    run_a: Annotated[Path, typer.Argument(help="results of run A (JSONL, JSON or CSV)")],
    run_b: Annotated[Path, typer.Argument(help="results of run B, compared against A")],
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="a metric field (repeatable)")
    ] = None,
    id_field: Annotated[str, typer.Option("--id", help="the field naming each item")] = "id",
    alpha: Annotated[float, typer.Option(min=0.0001, max=0.5, help="1 - confidence")] = 0.05,
    plot: Annotated[Path | None, typer.Option(help="write a PNG of the intervals here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Compare two evaluation runs item by item (paired when both have the same ids)."""
    comparisons = compare_runs(
        read_run(run_a), read_run(run_b), metric or None, id_field=id_field, alpha=alpha
    )
    title = f"{run_b.name} vs {run_a.name}"
    if plot is not None:
        from flightdeck.experiments.plots import plot_offline  # loads matplotlib

        plot_offline(comparisons, plot, title)
    if as_json:
        print(json.dumps([c.to_dict() for c in comparisons], indent=2))
        return
    paired = "paired by id" if comparisons[0].paired else "independent samples (Welch)"
    Console().print(offline_table(comparisons, f"{title}: {paired}"))
