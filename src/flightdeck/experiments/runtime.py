"""Experiments on the request path: the running experiments (cached, refreshed every few
seconds) and the hook ``ModelCalls`` runs before a call (``ExperimentRuntime.before_call``).

For a model call of a tenant, each running experiment of that tenant whose target is the
requested model group (``model_group`` and ``parameters`` targets) assigns the call's unit:

- ``user``: the body's ``user`` field (OpenAI's end-user id), else the OAuth user;
- ``api_key``: the calling key; ``conversation``: ``ctx.units["conversation"]`` when the route
  knows one (the assistant); ``request``: a fresh id per call.

A unit without an id is not in the experiment. An assigned call routes to the variant's model
group (or gets its parameters merged into the body) and lists the variant in ``ctx.variants``,
which the ledger records with the usage (the first request of a unit is its exposure) and the
route returns as ``x-flightdeck-experiment``.

The assistant also assigns ``prompt_version`` experiments (``assign_prompt``) before it renders
the prompt: ``target.name`` is the assistant mode (``chat``, ``summarize``, ...) or ``*``, and
the variant's value is the prompt version. Its variant joins ``ctx.variants`` like any other,
so the ledger records the exposure with the model call's usage.

Search assigns ``ranking`` experiments (``assign_ranking``): ``target.name`` is the collection
(or ``*``), the value a ranking configuration. A search makes no model call; its own usage
record (``search/outcomes.py``: latency, status, result count, response id) carries the variant
to the ledger, which writes the exposure and the request's link like a model call's, and
spools them while the database is down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

from flightdeck.calls.context import CallContext, ServedVariant
from flightdeck.core.ids import unique_id
from flightdeck.experiments.assignment import assign
from flightdeck.experiments.definitions import ExperimentOut
from flightdeck.experiments.store import ExperimentStore

log = logging.getLogger("flightdeck.experiments")
CALL_TARGETS = ("model_group", "parameters")


class ExperimentRuntime:
    """Running experiments by tenant, reloaded at most every ``refresh_seconds``."""

    def __init__(self, experiments: ExperimentStore, refresh_seconds: float = 5.0) -> None:
        self.experiments = experiments
        self.refresh_seconds = refresh_seconds
        self._by_tenant: dict[str, list[ExperimentOut]] = {}
        self._loaded_at = -float("inf")
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Reload on the next request (after an experiment starts or stops here)."""
        self._loaded_at = -float("inf")

    async def running(self, tenant: str) -> list[ExperimentOut]:
        """The tenant's running experiments. A database outage keeps the last known list."""
        if time.monotonic() - self._loaded_at >= self.refresh_seconds:
            async with self._lock:
                if time.monotonic() - self._loaded_at >= self.refresh_seconds:
                    await self._reload()
        return self._by_tenant.get(tenant, [])

    async def _reload(self) -> None:
        try:
            running = await self.experiments.running()
        except Exception:  # the request path must not fail because the store is down
            log.warning("experiments: could not reload running experiments", exc_info=True)
            self._loaded_at = time.monotonic()
            return
        by_tenant: dict[str, list[ExperimentOut]] = defaultdict(list)
        for experiment in running:
            by_tenant[experiment.tenant].append(experiment)
        self._by_tenant = dict(by_tenant)
        self._loaded_at = time.monotonic()

    async def assign_prompt(self, ctx: CallContext, mode: str) -> str | None:
        """The prompt version a running ``prompt_version`` experiment gives this assistant call
        (target ``mode`` or ``*``; the first experiment that assigns the unit wins), or None.
        The variant joins ``ctx.variants``; ``ctx.units`` may hold the conversation's id."""
        served = {v.experiment_id for v in ctx.variants}
        for experiment in await self.running(ctx.principal.tenant):
            target = experiment.target
            if target.kind != "prompt_version" or target.name not in (mode, "*"):
                continue
            if experiment.id in served:
                continue
            unit = unit_id(experiment, ctx, {})
            if not unit:
                continue
            assignment = assign(experiment.spec(), unit)
            if assignment.variant is None:
                continue
            ctx.variants.append(
                ServedVariant(experiment.id, experiment.key, assignment.variant, unit)
            )
            return str(experiment.value_of(assignment.variant))
        return None

    async def assign_ranking(self, ctx: CallContext, collection: str) -> dict[str, Any] | None:
        """The ranking configuration a running ``ranking`` experiment gives this search of
        ``collection`` (or None). The variant joins ``ctx.variants``: the search's usage record
        carries it to the ledger (its exposure) and the response to ``x-flightdeck-experiment``."""
        for experiment in await self.running(ctx.principal.tenant):
            target = experiment.target
            if target.kind != "ranking" or target.name not in (collection, "*"):
                continue
            unit = unit_id(experiment, ctx, {})
            if not unit:
                continue
            assignment = assign(experiment.spec(), unit)
            if assignment.variant is None:
                continue
            ctx.variants.append(
                ServedVariant(experiment.id, experiment.key, assignment.variant, unit)
            )
            value: dict[str, Any] = experiment.value_of(assignment.variant)
            return value
        return None

    async def before_call(self, ctx: CallContext, body: dict[str, Any]) -> None:
        """Assign the call's unit in each matching experiment and apply the variant."""
        requested = ctx.model_group
        served = {v.experiment_id for v in ctx.variants}
        for experiment in await self.running(ctx.principal.tenant):
            target = experiment.target
            if target.kind not in CALL_TARGETS or target.name != requested:
                continue
            if experiment.id in served:
                continue
            unit = unit_id(experiment, ctx, body)
            if not unit:
                continue
            assignment = assign(experiment.spec(), unit)
            if assignment.variant is None:
                continue
            value = experiment.value_of(assignment.variant)
            if target.kind == "model_group":
                ctx.model_group = value
            else:
                body.update(value)
            ctx.variants.append(
                ServedVariant(experiment.id, experiment.key, assignment.variant, unit)
            )


def unit_id(experiment: ExperimentOut, ctx: CallContext, body: dict[str, Any]) -> str:
    """The id of the call's unit for ``experiment`` ('' when the call has none)."""
    principal = ctx.principal
    if experiment.unit == "user":
        user = body.get("user")
        if isinstance(user, str) and user:
            return user
        return principal.user or ""
    if experiment.unit == "api_key":
        return f"key-{principal.key_id}" if principal.key_id is not None else ""
    if experiment.unit == "conversation":
        return ctx.units.get("conversation", "")
    return unique_id()
