"""``/admin/console/experiments``: what the console's experiments view charts (issue #18).

Admin role only, like the rest of ``/admin/console`` (others 403). A tenant's admin sees its
own tenant's experiments; a platform admin every tenant's (no ``tenant``) or the one it names.
The numbers are the admin API's (``experiments/results.py``: the same samples and analysis as
``GET /admin/experiments/{id}/results`` and the CLI's PNG plot), read from the store in one
pass: the results now, and each metric's variant-vs-control relative difference at ten evenly
spaced looks from the first exposure to the last, with its fixed-horizon and always-valid
(sequential) 95% intervals.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from flightdeck.experiments.analysis import MetricResult
from flightdeck.experiments.results import results_with_history
from flightdeck.server.admin.access import CallerAccess, Services
from flightdeck.server.admin.console import console_scope
from flightdeck.server.admin.experiments import finite

router = APIRouter(prefix="/console/experiments", tags=["console"])


def looks_to_dict(name: str, looks: list[tuple[float, MetricResult]]) -> dict[str, Any]:
    """One metric over time in the console's shape: ``times`` (POSIX seconds) and, per
    treatment, aligned lists of the relative difference and its intervals' bounds (None where
    the treatment has no result at that look)."""
    variants = sorted({c.variant for _, result in looks for c in result.comparisons})
    fields = ("relative", "low", "high", "sequential_low", "sequential_high")
    series: dict[str, dict[str, list[float | None]]] = {
        v: {f: [] for f in fields} for v in variants
    }
    for _, result in looks:
        found = {c.variant: c for c in result.comparisons}
        for variant, lists in series.items():
            c = found.get(variant)
            values = (
                (
                    c.difference.relative,
                    *c.difference.relative_ci,
                    *c.sequential_relative_ci,
                )
                if c is not None
                else (None,) * len(fields)
            )
            for f, value in zip(fields, values, strict=True):
                lists[f].append(value)
    return {
        "name": name,
        "control": looks[0][1].control if looks else None,
        "times": [t for t, _ in looks],
        "variants": [{"variant": v} | series[v] for v in variants],
    }


@router.get("")
async def list_experiments(
    caller: CallerAccess, services: Services, tenant: str | None = None
) -> dict[str, Any]:
    """The experiments the console may show: key, tenant, status, target, variants."""
    scope = console_scope(caller, tenant)
    found = await services.experiments.all(scope)
    return {"tenant": scope, "data": [e.model_dump(mode="json") for e in found]}


@router.get("/{ref}")
async def experiment_view(
    ref: str, caller: CallerAccess, services: Services, tenant: str | None = None
) -> dict[str, Any]:
    """One experiment (by id or key): its definition, its results now (the admin API's
    ``results`` shape: units, sample-ratio check, metrics) and ``over_time``, each metric's
    looks (see :func:`looks_to_dict`)."""
    scope = console_scope(caller, tenant) or caller.principal.tenant
    experiment = await services.experiments.get(scope, ref)
    results, history = await results_with_history(services.experiments.store, experiment)
    answer: dict[str, Any] = finite(
        {
            "experiment": experiment.model_dump(mode="json"),
            "results": results.to_dict(),
            "over_time": [looks_to_dict(name, looks) for name, looks in history],
        }
    )
    return answer
