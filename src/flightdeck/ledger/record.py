"""One request's usage, as the gateway reports it after the call."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flightdeck.core.ids import unique_id

ExperimentTag = tuple[int, str, str]
CACHE_HITS = ("hit", "semantic-hit")
SEARCH_GROUP_PREFIX = "search:"  # a search's record: model group 'search:<collection>'


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class UsageRecord:
    """Usage of one request. ``record_id`` is unique, so writing a record twice stores it once."""

    tenant: str
    model_group: str
    status: int
    key_id: int | None = None
    user: str | None = None
    deployment: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost: float = 0.0
    latency_ms: float | None = None
    ttft_ms: float | None = None
    error_type: str | None = None
    trace_id: str | None = None
    ts: datetime = field(default_factory=_now)
    record_id: str = field(default_factory=unique_id)
    # experiments this request was served in: (experiment id, variant, unit); stored beside the
    # record (experiment_requests, experiment_exposures), not in usage_records
    experiments: tuple[ExperimentTag, ...] = ()
    response_id: str | None = None  # the id the client saw (chat completion id), for feedback
    # the response cache's result (hit | semantic-hit | miss | bypass | refresh; None when the
    # call does not go through it) and, for a hit, what the call that wrote the entry cost
    cache_result: str | None = None
    saved_cost: float = 0.0
    result_count: int | None = None  # a search's hits (None: not a search)

    @property
    def cache_hit(self) -> bool:
        """Whether the cache answered (exactly or semantically) instead of a model."""
        return self.cache_result in CACHE_HITS

    def to_json(self) -> dict[str, Any]:
        data = self.to_row()  # explicit fields: dataclasses.asdict deep-copies, and is slow
        data["ts"] = self.ts.isoformat()
        if self.experiments:
            data["experiments"] = [list(tag) for tag in self.experiments]
        if self.response_id is not None:
            data["response_id"] = self.response_id
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UsageRecord:
        values = dict(data)
        values["ts"] = datetime.fromisoformat(values["ts"])
        values["experiments"] = tuple(
            (int(i), str(v), str(u)) for i, v, u in values.get("experiments", ())
        )
        return cls(**values)

    def to_row(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "ts": self.ts.astimezone(UTC),
            "tenant": self.tenant,
            "key_id": self.key_id,
            "user": self.user,
            "model_group": self.model_group,
            "deployment": self.deployment,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cost": self.cost,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "status": self.status,
            "error_type": self.error_type,
            "trace_id": self.trace_id,
            "cache_result": self.cache_result,
            "saved_cost": self.saved_cost,
            "result_count": self.result_count,
        }
