"""``/admin/experiments``: define, start, stop and read experiments (issue #18).

Tenant-owned like every admin resource: reading needs any role of the tenant, changing needs
its admin role (or a platform admin); naming another tenant is 403, another tenant's experiment
404. A model-group variant must name a configured model group.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter

from flightdeck.core.errors import InvalidRequest
from flightdeck.experiments.definitions import ExperimentIn, ExperimentOut
from flightdeck.experiments.results import experiment_results
from flightdeck.server.admin.access import CallerAccess, Services

router = APIRouter(prefix="/experiments", tags=["experiments"])


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


@router.get("", response_model=list[ExperimentOut])
async def list_experiments(
    caller: CallerAccess, services: Services, tenant: str | None = None
) -> list[ExperimentOut]:
    return await services.experiments.all(caller.tenant(tenant))


@router.post("", response_model=ExperimentOut, status_code=201)
async def create_experiment(
    body: ExperimentIn, caller: CallerAccess, services: Services
) -> ExperimentOut:
    tenant = caller.tenant(body.tenant, write=True)
    if body.target.kind == "model_group":
        for v in body.variants:
            if v.value not in services.model_groups:
                raise InvalidRequest(
                    f"variant {v.name!r}: model group {v.value!r} is not configured",
                    param="variants",
                )
    return await services.experiments.create(tenant, body)


@router.get("/{ref}", response_model=ExperimentOut)
async def get_experiment(
    ref: str, caller: CallerAccess, services: Services, tenant: str | None = None
) -> ExperimentOut:
    return await services.experiments.get(caller.tenant(tenant), ref)


@router.post("/{ref}/start", response_model=ExperimentOut)
async def start_experiment(
    ref: str, caller: CallerAccess, services: Services, tenant: str | None = None
) -> ExperimentOut:
    out = await services.experiments.transition(caller.tenant(tenant, write=True), ref, "start")
    if services.experiment_runtime is not None:
        services.experiment_runtime.invalidate()
    return out


@router.post("/{ref}/stop", response_model=ExperimentOut)
async def stop_experiment(
    ref: str, caller: CallerAccess, services: Services, tenant: str | None = None
) -> ExperimentOut:
    out = await services.experiments.transition(caller.tenant(tenant, write=True), ref, "stop")
    if services.experiment_runtime is not None:
        services.experiment_runtime.invalidate()
    return out


@router.get("/{ref}/results")
async def results(
    ref: str, caller: CallerAccess, services: Services, tenant: str | None = None
) -> dict[str, Any]:
    experiment = await services.experiments.get(caller.tenant(tenant), ref)
    found = await experiment_results(services.experiments.store, experiment)
    out: dict[str, Any] = finite(
        {"experiment": experiment.key, "status": experiment.status} | found.to_dict()
    )
    return out
