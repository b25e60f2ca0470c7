"""Server-sent events of the assistant: ``event: <name>`` with a JSON ``data`` line."""

from __future__ import annotations

from typing import Any

import orjson

EVENT_NAMES = ("status", "sources", "delta", "citation", "usage", "done", "error")


def sse(name: str, data: Any) -> bytes:
    assert name in EVENT_NAMES
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def error_data(message: str, code: str, page: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"message": message, "code": code}
    if page is not None:
        data["page"] = page
    return data
