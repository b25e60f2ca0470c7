"""Conversation storage on SQLite and the local PostgreSQL; embeddings reused by follow-ups."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from flightdeck.assistant.context import build_context, process_page
from flightdeck.assistant.conversations import ConversationStore
from flightdeck.assistant.embeddings import PassageEncoder
from flightdeck.assistant.pages import PageInput
from flightdeck.auth.keys import Principal, Role
from flightdeck.core.errors import NotFound
from flightdeck.core.settings import AssistantSettings
from flightdeck.store.database import Store
from tests.assistant.conftest import OTTERS

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/"


async def _fresh_pg_database() -> str | None:
    try:
        import asyncpg

        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test", timeout=3)
    except (OSError, Exception) as exc:
        if os.environ.get("CI") == "true":
            raise AssertionError(f"PostgreSQL is down on CI: {exc}") from exc
        return None
    name = f"fd_assistant_{uuid.uuid4().hex[:8]}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name


async def _drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite+aiosqlite:///{tmp_path}/fd.db")
        await s.migrate()
        yield s
        await s.close()
        return
    name = await _fresh_pg_database()
    if name is None:
        pytest.skip("PostgreSQL is not running (it must on CI)")
    s = Store(PG + name)
    try:
        await s.migrate()
        yield s
    finally:
        await s.close()
        await _drop_pg_database(name)


ALICE = Principal(1, "alice", "acme", Role.MEMBER)
BOB = Principal(2, "bob", "acme", Role.MEMBER)


async def test_pages_turns_and_ownership_round_trip(store: Store) -> None:
    conversations = ConversationStore(store)
    page = process_page(PageInput("https://otters.test/", "", html=OTTERS), 0)
    cid = await conversations.create(ALICE, title="otters", model="m")
    await conversations.save_pages(cid, [page])
    await conversations.add_turn(
        cid, question="q?", answer="a [1]", mode="chat", citations=[{"n": 1}]
    )
    stored = (await conversations.pages(cid))[0]
    assert (stored.key, stored.text) == (page.key, page.text)
    assert [(p.id, p.start, p.end, p.tokens, p.terms) for p in stored.passages] == [
        (p.id, p.start, p.end, p.tokens, p.terms) for p in page.passages
    ]
    assert await conversations.history(cid) == [
        {"role": "user", "content": "q?"},
        {"role": "assistant", "content": "a [1]"},
    ]
    assert [c["id"] for c in await conversations.list_for(ALICE)] == [cid]
    assert await conversations.list_for(BOB) == []
    with pytest.raises(NotFound):
        await conversations.delete(BOB, cid)
    await conversations.delete(ALICE, cid)
    assert await conversations.list_for(ALICE) == []
    assert await conversations.pages(cid) == []


@pytest.mark.slow
async def test_page_vectors_are_computed_once_and_reused_by_follow_ups() -> None:
    encoder = PassageEncoder()
    page = process_page(PageInput("u", "", html=OTTERS), 0)
    settings = AssistantSettings()

    async def best_passage(question: str) -> str:
        context = await build_context(
            question, "chat", [page], [], settings=settings, model="m", prompt=None, encoder=encoder
        )
        return max(context.sources, key=lambda s: s.score).passage.text

    # The first question is ranked by BM25 at once; the page is encoded in the background.
    assert "northern Pacific" in await best_passage("In which ocean do they live?")
    await encoder.idle()
    assert encoder.encoded == len(page.passages)
    # A follow-up sharing no word with the answer finds it through the embeddings,
    # encoding only the question.
    assert "million hairs" in await best_passage("Which marine mammal has the thickest coat?")
    assert encoder.encoded == len(page.passages) + 1
