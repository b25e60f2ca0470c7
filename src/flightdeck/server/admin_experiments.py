"""``/admin/experiments``: define, start, stop and read experiments (issue #18).

Tenant-owned like every admin resource: reading needs any role of the tenant, changing needs
its admin role (or a platform admin); naming another tenant is 403, another tenant's experiment
404. A model-group variant must name a configured model group.
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency alias.
import math
from collections.abc import Callable, Collection
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from flightdeck.core.errors import InvalidRequest
from flightdeck.experiments.definitions import ExperimentIn, ExperimentOut
from flightdeck.experiments.results import experiment_results
from flightdeck.experiments.runtime import ExperimentRuntime
from flightdeck.experiments.store import ExperimentStore
from flightdeck.server.admin_access import Access


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def experiments_router(
    experiments: ExperimentStore,
    runtime: ExperimentRuntime | None,
    model_groups: Collection[str],
    access: Callable[..., Any],
) -> APIRouter:
    """The router (see the module docstring); ``access`` is the admin app's caller dependency."""
    router = APIRouter(prefix="/experiments", tags=["experiments"])
    caller_dep = Annotated[Access, Depends(access)]

    @router.get("", response_model=list[ExperimentOut])
    async def list_experiments(
        caller: caller_dep, tenant: str | None = None
    ) -> list[ExperimentOut]:
        return await experiments.all(caller.tenant(tenant))

    @router.post("", response_model=ExperimentOut, status_code=201)
    async def create_experiment(body: ExperimentIn, caller: caller_dep) -> ExperimentOut:
        tenant = caller.tenant(body.tenant, write=True)
        if body.target.kind == "model_group":
            for v in body.variants:
                if v.value not in model_groups:
                    raise InvalidRequest(
                        f"variant {v.name!r}: model group {v.value!r} is not configured",
                        param="variants",
                    )
        return await experiments.create(tenant, body)

    @router.get("/{ref}", response_model=ExperimentOut)
    async def get_experiment(
        ref: str, caller: caller_dep, tenant: str | None = None
    ) -> ExperimentOut:
        return await experiments.get(caller.tenant(tenant), ref)

    @router.post("/{ref}/start", response_model=ExperimentOut)
    async def start_experiment(
        ref: str, caller: caller_dep, tenant: str | None = None
    ) -> ExperimentOut:
        out = await experiments.transition(caller.tenant(tenant, write=True), ref, "start")
        if runtime is not None:
            runtime.invalidate()
        return out

    @router.post("/{ref}/stop", response_model=ExperimentOut)
    async def stop_experiment(
        ref: str, caller: caller_dep, tenant: str | None = None
    ) -> ExperimentOut:
        out = await experiments.transition(caller.tenant(tenant, write=True), ref, "stop")
        if runtime is not None:
            runtime.invalidate()
        return out

    @router.get("/{ref}/results")
    async def results(ref: str, caller: caller_dep, tenant: str | None = None) -> dict[str, Any]:
        experiment = await experiments.get(caller.tenant(tenant), ref)
        found = await experiment_results(experiments.store, experiment)
        out: dict[str, Any] = finite(
            {"experiment": experiment.key, "status": experiment.status} | found.to_dict()
        )
        return out

    return router
