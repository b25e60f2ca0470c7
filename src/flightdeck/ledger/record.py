"""One request's usage, as the gateway reports it after the call."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


def _new_id() -> str:
    return uuid.uuid4().hex


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
    record_id: str = field(default_factory=_new_id)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ts"] = self.ts.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UsageRecord:
        values = dict(data)
        values["ts"] = datetime.fromisoformat(values["ts"])
        return cls(**values)

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["ts"] = self.ts.astimezone(UTC)
        return row
