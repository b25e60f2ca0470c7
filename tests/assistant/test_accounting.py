"""The assistant's model calls count like gateway calls: limited, budgeted, in the usage ledger."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy import select

from flightdeck.core.settings import Settings
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import UsageRow
from flightdeck.testing.server import ServerThread
from tests.assistant.conftest import EXTRACTIVE, OTTERS, call, post_events


def ask(question: str, **extra: object) -> dict[str, object]:
    page = {"url": "https://otters.test/", "title": "", "html": OTTERS}
    return {"model": "local/extractive", "question": question, "pages": [page], **extra}


async def usage_rows(url: str) -> list[UsageRow]:
    store = Store(url)
    try:
        async with store.session() as session:
            return list((await session.scalars(select(UsageRow).order_by(UsageRow.id))).all())
    finally:
        await store.close()


def test_assistant_calls_are_limited_and_recorded(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], ServerThread]
) -> None:
    settings = make_settings(
        [EXTRACTIVE],
        assistant={"embeddings": False},
        limits={"default_key": {"requests_per_minute": 2}},
        ledger={"flush_interval_seconds": 0.05},
    )
    server = serve(settings)
    events = post_events(server, ask("What do sea otters use rocks for?"))
    assert [n for n, _ in events][-1] == "done"
    status, body = call(server, "POST", "/v1/assistant/chat", ask("Where?", stream=False))
    assert status == 200, body

    status, body = call(server, "POST", "/v1/assistant/chat", ask("Again?", stream=False))
    assert status == 429 and body["error"]["code"] == "rate_limit_exceeded", body
    events = post_events(server, ask("And streamed?"))
    name, data = events[-1]
    assert name == "error" and data["code"] == "rate_limit_exceeded", events[-1]

    rows: list[UsageRow] = []
    for _ in range(100):
        rows = asyncio.run(usage_rows(settings.store_url))
        if len(rows) >= 4:
            break
        time.sleep(0.05)
    ok = [r for r in rows if r.status == 200]
    assert [r.model_group for r in ok] == ["local/extractive"] * 2
    assert all(r.input_tokens > 100 and r.output_tokens > 0 for r in ok), ok
    assert sorted(r.status for r in rows) == [200, 200, 429, 429]
