"""``/admin/usage``: a tenant's usage over a time range, grouped by model, key or day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from flightdeck.core.errors import InvalidRequest
from flightdeck.ledger.queries import GroupBy, UsageQuery, query_usage
from flightdeck.server.admin.access import CallerAccess, Services

router = APIRouter(prefix="/usage", tags=["usage"])


class UsageGroupOut(BaseModel):
    """The totals of one group (a model, key or day)."""

    group: str
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost: float
    cache_hits: int = Field(description="requests the response cache answered (no model call)")
    cache_hit_rate: float = Field(description="cache_hits / requests")
    saved_cost: float = Field(description="what the model calls the cache hits replaced cost")


class UsageOut(BaseModel):
    """A tenant's usage from ``from`` to ``to``, one entry per group."""

    tenant: str
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    group_by: GroupBy
    data: list[UsageGroupOut]


def aware(value: datetime) -> datetime:
    """``value`` with UTC as its time zone when it has none."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@router.get("", response_model=UsageOut)
async def usage(
    caller: CallerAccess,
    services: Services,
    tenant: str | None = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    group_by: GroupBy = GroupBy.MODEL,
) -> UsageOut:
    name = caller.tenant(tenant)
    now = datetime.now(UTC)
    end = aware(end) if end else now
    start = aware(start) if start else end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if end <= start:
        raise InvalidRequest("'to' must be after 'from'", param="to")
    if end - start > timedelta(days=3700):
        raise InvalidRequest("the range is longer than ten years", param="from")
    async with services.store.engine.connect() as conn:
        totals = await query_usage(conn, UsageQuery(name, start, end, group_by))
    data = [UsageGroupOut(**{f: getattr(t, f) for f in UsageGroupOut.model_fields}) for t in totals]
    return UsageOut.model_validate(
        {"tenant": name, "from": start, "to": end, "group_by": group_by, "data": data}
    )
