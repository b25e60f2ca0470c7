"""``flightdeck experiments``: A/B tests (issue #18). ``create|list|start|stop|results`` work
on the store directly, like ``flightdeck collections`` (the HTTP equivalents are under
/admin/experiments); ``offline`` compares two evaluation runs (two result files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from flightdeck.cli.context import command_group, one_line_errors, run_with_store, settings_for
from flightdeck.core.errors import InvalidRequest
from flightdeck.experiments.offline import OfflineComparison, compare_runs, read_run

app = command_group("A/B tests: define, start, stop and analyse experiments.", no_args_is_help=True)


ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")]
TenantOpt = Annotated[
    str | None, typer.Option(help="the owning tenant; default: the platform tenant")
]


@app.command("create")
@one_line_errors
def create(
    definition: Annotated[
        Path, typer.Argument(help="the experiment as JSON (see docs/experiments.md)")
    ],
    tenant: TenantOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create an experiment (a draft) from a JSON definition file."""
    from pydantic import ValidationError

    from flightdeck.experiments.definitions import ExperimentIn
    from flightdeck.experiments.store import ExperimentStore

    settings = settings_for(config)
    try:
        spec = ExperimentIn.model_validate_json(definition.read_text())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidRequest(f"{definition}: {where}: {first['msg']}") from None
    if spec.target.kind == "model_group":
        for v in spec.variants:
            if v.value not in settings.model_names():
                raise InvalidRequest(
                    f"variant {v.name!r}: model group {v.value!r} is not configured"
                )
    owner = tenant or spec.tenant or settings.auth.platform_tenant
    out = run_with_store(settings, lambda store: ExperimentStore(store).create(owner, spec))
    print(f"created experiment {out.key} (id {out.id}) of tenant {owner}: draft")


@app.command("list")
@one_line_errors
def list_experiments(tenant: TenantOpt = None, config: ConfigOpt = None) -> None:
    """List a tenant's experiments."""
    from flightdeck.experiments.store import ExperimentStore

    settings = settings_for(config)
    owner = tenant or settings.auth.platform_tenant
    table = Table("id", "key", "status", "unit", "target", "variants", "coverage", "layer")
    for e in run_with_store(settings, lambda store: ExperimentStore(store).all(owner)):
        variants = ", ".join(f"{v.name}:{v.weight:g}" for v in e.variants)
        target = f"{e.target.kind}:{e.target.name}"
        table.add_row(
            str(e.id), e.key, e.status, e.unit, target, variants, f"{e.coverage:g}", e.layer
        )
    Console().print(table)


def _transition(ref: str, action: str, tenant: str | None, config: Path | None) -> None:
    from flightdeck.experiments.store import ExperimentStore

    settings = settings_for(config)
    owner = tenant or settings.auth.platform_tenant
    out = run_with_store(
        settings, lambda store: ExperimentStore(store).transition(owner, ref, action)
    )
    print(f"experiment {out.key}: {out.status} (running servers pick it up within seconds)")


@app.command("start")
@one_line_errors
def start(
    ref: Annotated[str, typer.Argument(help="id or key")],
    tenant: TenantOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Start a draft experiment."""
    _transition(ref, "start", tenant, config)


@app.command("stop")
@one_line_errors
def stop(
    ref: Annotated[str, typer.Argument(help="id or key")],
    tenant: TenantOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Stop a running experiment (its results stay readable)."""
    _transition(ref, "stop", tenant, config)


@app.command("results")
@one_line_errors
def results(
    ref: Annotated[str, typer.Argument(help="id or key")],
    tenant: TenantOpt = None,
    plot: Annotated[Path | None, typer.Option(help="write a PNG of each metric over time")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    config: ConfigOpt = None,
) -> None:
    """Units, sample-ratio check and every metric's differences against the control."""
    from flightdeck.experiments.results import experiment_results, results_over_time
    from flightdeck.experiments.store import ExperimentStore
    from flightdeck.store.database import Store

    settings = settings_for(config)
    owner = tenant or settings.auth.platform_tenant

    async def job(store: Store) -> tuple[Any, Any, Any]:
        experiment = await ExperimentStore(store).get(owner, ref)
        found = await experiment_results(store, experiment)
        series = await results_over_time(store, experiment) if plot is not None else []
        return experiment, found, series

    experiment, found, series = run_with_store(settings, job)
    if plot is not None:
        from flightdeck.experiments.plots import plot_over_time  # loads matplotlib

        plot_over_time(series, plot, f"experiment {experiment.key}")
    data = found.to_dict()
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    srm = data["sample_ratio"]
    flag = "MISMATCH" if srm["mismatch"] else "ok"
    print(
        f"{experiment.key} ({experiment.status}): units {data['units']}; "
        f"sample ratio {flag} (p={srm['p_value']:.3g})"
    )
    table = Table("metric", "variant", "relative (95% CI)", "always-valid CI", "p")
    for metric in found.metrics:
        for c in metric.comparisons:
            d = c.difference
            table.add_row(
                metric.name + (" (CUPED)" if metric.cuped else ""),
                c.variant,
                f"{100 * d.relative:+.2f}% "
                + _interval(d.relative_ci[0], d.relative_ci[1], scale=100, unit="%"),
                _interval(c.sequential_relative_ci[0], c.sequential_relative_ci[1], 100, "%"),
                f"{d.p_value:.3g}",
            )
    Console().print(table)


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
