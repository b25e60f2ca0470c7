"""Experiments in the store: create (a draft, with its slice of the layer), list, start, stop.

Tenant-scoped: every lookup names the tenant, so another tenant's experiment is "not found".
A running experiment's variants, weights and slice do not change (assignment stays stable);
to change them, stop it and create another.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flightdeck.core.errors import InvalidRequest, NotFound
from flightdeck.experiments.assignment import Layer
from flightdeck.experiments.buckets import Namespace
from flightdeck.experiments.definitions import ExperimentIn, ExperimentOut, Target, Variant
from flightdeck.store.database import Store
from flightdeck.store.models_experiments import ExperimentRow

TRANSITIONS = {"start": ("draft", "running"), "stop": ("running", "stopped")}


def experiment_out(row: ExperimentRow) -> ExperimentOut:
    """The API shape of a stored row."""
    return ExperimentOut(
        id=row.id,
        tenant=row.tenant,
        key=row.key,
        description=row.description,
        status=row.status,
        unit=row.unit,
        target=Target(kind=row.target_kind, name=row.target),
        variants=[Variant.model_validate(v) for v in json.loads(row.variants)],
        coverage=row.coverage,
        layer=row.layer,
        namespace=(row.ns_start, row.ns_end),
        metrics=json.loads(row.metrics),
        hash_version=row.hash_version,
        created_at=row.created_at,
        started_at=row.started_at,
        stopped_at=row.stopped_at,
    )


class ExperimentStore:
    """CRUD and status changes of experiments (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, tenant: str, spec: ExperimentIn) -> ExperimentOut:
        """Store a draft; raises InvalidRequest when the key exists or the layer is full."""
        layer_name = spec.layer_name()
        async with self.store.session() as session, session.begin():
            taken = await session.scalars(
                select(ExperimentRow).where(
                    ExperimentRow.tenant == tenant,
                    ExperimentRow.layer == layer_name,
                    ExperimentRow.status != "stopped",
                )
            )
            layer = Layer(layer_name, [Namespace(layer_name, r.ns_start, r.ns_end) for r in taken])
            namespace = layer.allocate(spec.layer_share)
            weights = spec.weights()
            variants = [
                {"name": v.name, "weight": w, "value": v.value}
                for v, w in zip(spec.variants, weights, strict=True)
            ]
            row = ExperimentRow(
                tenant=tenant,
                key=spec.key,
                description=spec.description,
                status="draft",
                unit=spec.unit,
                surface=spec.target.kind,
                target_kind=spec.target.kind,
                target=spec.target.name,
                variants=json.dumps(variants),
                coverage=spec.coverage,
                layer=layer_name,
                ns_start=namespace.start,
                ns_end=namespace.end,
                hash_version=spec.hash_version,
                seed="",
                metrics=json.dumps(spec.metrics),
            )
            session.add(row)
            try:
                await session.flush()
            except IntegrityError:
                raise InvalidRequest(
                    f"experiment {spec.key!r} already exists", param="key", code="duplicate_key"
                ) from None
        return experiment_out(row)

    async def all(self, tenant: str | None) -> list[ExperimentOut]:
        """The tenant's experiments, oldest first (None: every tenant's)."""
        query = select(ExperimentRow).order_by(ExperimentRow.id)
        if tenant is not None:
            query = query.where(ExperimentRow.tenant == tenant)
        async with self.store.session() as session:
            return [experiment_out(r) for r in await session.scalars(query)]

    async def get(self, tenant: str, ref: str | int) -> ExperimentOut:
        """By id or key; raises NotFound (also for another tenant's experiment)."""
        async with self.store.session() as session:
            return experiment_out(await self._row(session, tenant, ref))

    async def running(self) -> list[ExperimentOut]:
        """Every running experiment, of all tenants (the request path's cache reads this)."""
        async with self.store.session() as session:
            rows = await session.scalars(
                select(ExperimentRow).where(ExperimentRow.status == "running")
            )
            return [experiment_out(r) for r in rows]

    async def transition(self, tenant: str, ref: str | int, action: str) -> ExperimentOut:
        """``start`` a draft or ``stop`` a running experiment; raises InvalidRequest otherwise."""
        before, after = TRANSITIONS[action]
        async with self.store.session() as session, session.begin():
            row = await self._row(session, tenant, ref)
            if row.status != before:
                raise InvalidRequest(
                    f"experiment {row.key!r} is {row.status}; only a {before} one can {action}",
                    code="invalid_status",
                )
            row.status = after
            now = datetime.now(UTC)
            if action == "start":
                row.started_at = now
            else:
                row.stopped_at = now
        return experiment_out(row)

    async def _row(self, session: AsyncSession, tenant: str, ref: str | int) -> ExperimentRow:
        query = select(ExperimentRow).where(ExperimentRow.tenant == tenant)
        if isinstance(ref, int) or ref.isdigit():
            query = query.where(ExperimentRow.id == int(ref))
        else:
            query = query.where(ExperimentRow.key == ref)
        row = await session.scalar(query)
        if row is None:
            raise NotFound(f"experiment {ref!r} does not exist", code="experiment_not_found")
        return row
