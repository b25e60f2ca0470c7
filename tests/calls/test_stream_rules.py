"""Every stream gets the same rules, whichever plane serves it: idle timeout, metering, settle."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from flightdeck.core.settings import Settings
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import UsageRow
from flightdeck.testing import FakeUpstream
from flightdeck.testing.server import ServerThread

IDLE_TIMEOUT = 0.3
PAGE = {"url": "https://otters.test/", "title": "Otters", "text": "Sea otters use rocks as tools."}
REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "gateway": (
        "/v1/chat/completions",
        {"model": "m", "messages": [{"role": "user", "content": "a b c d e f"}], "stream": True},
    ),
    "assistant": (
        "/v1/assistant/chat",
        {"model": "m", "question": "What do otters use?", "pages": [PAGE]},
    ),
}


def stream_events(server: ServerThread, path: str, body: dict[str, Any]) -> tuple[float, str]:
    """POST ``body`` and read the event stream: (``time.monotonic()`` at its end, the raw
    events)."""
    url = urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    headers = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"}
    conn.request("POST", path, json.dumps(body), headers)
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("content-type", "").startswith("text/event-stream")
    raw = response.read().decode()
    ended = time.monotonic()
    conn.close()
    return ended, raw


def error_of(plane: str, raw: str) -> dict[str, Any]:
    """The stream's last event, which must be a well-formed error event of its plane."""
    last = [block for block in raw.split("\n\n") if block.strip()][-1]
    lines = dict(line.split(": ", 1) for line in last.splitlines())
    data = json.loads(lines["data"])
    if plane == "gateway":  # the OpenAI error shape
        assert set(data["error"]) == {"message", "type", "param", "code"}
        return dict(data["error"])
    assert lines["event"] == "error"
    return dict(data)


async def usage_rows(url: str) -> list[UsageRow]:
    store = Store(url)
    try:
        async with store.session() as session:
            return list((await session.scalars(select(UsageRow).order_by(UsageRow.id))).all())
    finally:
        await store.close()


@pytest.mark.parametrize("plane", ["gateway", "assistant"])
def test_stalled_upstream_ends_the_stream_soon_after_the_idle_timeout(
    plane: str,
    upstream: FakeUpstream,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], ServerThread],
) -> None:
    upstream.behaviour.chunk_delay = 3.0  # one chunk, then silence for 3 s before each next one
    settings = make_settings(
        [{"name": "m", "base_url": upstream.base_url}],
        router={"stream_idle_timeout_seconds": IDLE_TIMEOUT},
        assistant={"embeddings": False},
        ledger={"flush_interval_seconds": 0.05},
    )
    server = serve(settings)
    path, body = REQUESTS[plane]

    ended, raw = stream_events(server, path, body)
    # the stall starts when the upstream answers its first chunk, at once on arrival; the work
    # before the model call (the assistant's pages) is not part of it
    [arrived] = upstream.record.arrivals
    took = ended - arrived

    error = error_of(plane, raw)
    assert error["code"] == "stream_idle_timeout"
    assert f"sent nothing for {IDLE_TIMEOUT:g}s" in error["message"]
    assert took < IDLE_TIMEOUT + 1.0, f"{plane} stream took {took:.2f}s"
    rows: list[UsageRow] = []
    for _ in range(100):  # the ledger writes off the request path
        rows = asyncio.run(usage_rows(settings.store_url))
        if rows:
            break
        time.sleep(0.05)
    assert [(r.status, r.error_type) for r in rows] == [(200, "stream_idle_timeout")]
