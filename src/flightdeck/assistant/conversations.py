"""Stored conversations: owned by one API key, or one OAuth user (issuer and subject together),
in one tenant; pages keep their passages.

Every query filters by tenant and owner, so one user can never read or delete another's
conversation (they get 404, as if it did not exist), and the same ``sub`` from another issuer is
another user.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, false, func, select

from flightdeck.assistant.context import ProcessedPage
from flightdeck.assistant.pages import Passage
from flightdeck.auth.keys import Principal
from flightdeck.core.errors import NotFound
from flightdeck.store.conversations import Conversation, ConversationMessage, ConversationPage
from flightdeck.store.database import Store
from flightdeck.store.models import utcnow
from flightdeck.text.language import detect_language
from flightdeck.text.terms import term_counts

HISTORY_TURNS = 6


class ConversationStore:
    """A caller's conversations, their pages and turns, in the database (tenant- and key-scoped)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, owner: Principal, *, title: str, model: str) -> str:
        conversation = Conversation(
            id=str(uuid.uuid4()),
            tenant=owner.tenant,
            owner_key_id=owner.key_id,
            owner_user=owner.user if owner.key_id is None else None,
            owner_issuer=owner.issuer if owner.key_id is None else None,
            title=title[:300],
            model=model,
        )
        async with self.store.session() as session, session.begin():
            session.add(conversation)
        return conversation.id

    async def get(self, owner: Principal, conversation_id: str) -> Conversation:
        async with self.store.session() as session:
            found = await session.scalar(_owned(owner).where(Conversation.id == conversation_id))
        if found is None:
            raise NotFound(
                f"no conversation {conversation_id!r}",
                param="conversation_id",
                code="conversation_not_found",
            )
        assert isinstance(found, Conversation)
        return found

    async def list_for(self, owner: Principal, *, limit: int = 50) -> list[dict[str, Any]]:
        query = _owned(owner).order_by(Conversation.updated_at.desc()).limit(limit)
        async with self.store.session() as session:
            rows = (await session.scalars(query)).all()
        return [conversation_summary(c) for c in rows]

    async def delete(self, owner: Principal, conversation_id: str) -> None:
        await self.get(owner, conversation_id)
        async with self.store.session() as session, session.begin():
            for table in (ConversationMessage, ConversationPage):
                await session.execute(delete(table).where(table.conversation_id == conversation_id))
            await session.execute(delete(Conversation).where(Conversation.id == conversation_id))

    async def messages(self, conversation_id: str) -> list[ConversationMessage]:
        query = (
            select(ConversationMessage)
            .where(ConversationMessage.conversation_id == conversation_id)
            .order_by(ConversationMessage.id)
        )
        async with self.store.session() as session:
            return list((await session.scalars(query)).all())

    async def history(self, conversation_id: str) -> list[dict[str, Any]]:
        """The last turns as chat messages, for a follow-up question."""
        turns = await self.messages(conversation_id)
        return [{"role": m.role, "content": m.content} for m in turns[-HISTORY_TURNS:]]

    async def pages(self, conversation_id: str) -> list[ProcessedPage]:
        query = (
            select(ConversationPage)
            .where(ConversationPage.conversation_id == conversation_id)
            .order_by(ConversationPage.position)
        )
        async with self.store.session() as session:
            rows = (await session.scalars(query)).all()
        return [
            ProcessedPage(
                r.content_key,
                r.url,
                r.title,
                r.text,
                [_passage(d) for d in r.passages],
                detect_language(r.text),
            )
            for r in rows
        ]

    async def save_pages(self, conversation_id: str, pages: Sequence[ProcessedPage]) -> None:
        """Replace the conversation's pages with these (no-op when they are the same)."""
        stored = await self.pages(conversation_id)
        if [p.key for p in stored] == [p.key for p in pages]:
            return
        async with self.store.session() as session, session.begin():
            await session.execute(
                delete(ConversationPage).where(ConversationPage.conversation_id == conversation_id)
            )
            for position, page in enumerate(pages):
                session.add(
                    ConversationPage(
                        conversation_id=conversation_id,
                        position=position,
                        content_key=page.key,
                        url=page.url,
                        title=page.title,
                        text=page.text,
                        passages=[passage_dict(p) for p in page.passages],
                    )
                )

    async def add_turn(
        self,
        conversation_id: str,
        *,
        question: str,
        answer: str,
        mode: str,
        citations: list[dict[str, Any]],
    ) -> None:
        async with self.store.session() as session, session.begin():
            session.add(
                ConversationMessage(
                    conversation_id=conversation_id,
                    role="user",
                    content=question,
                    mode=mode,
                    citations=[],
                )
            )
            session.add(
                ConversationMessage(
                    conversation_id=conversation_id,
                    role="assistant",
                    content=answer,
                    mode=mode,
                    citations=citations,
                )
            )
            conversation = await session.get(Conversation, conversation_id)
            if conversation is not None:
                conversation.updated_at = utcnow()

    async def count(self, owner: Principal) -> int:
        query = select(func.count()).select_from(_owned(owner).subquery())
        async with self.store.session() as session:
            return int(await session.scalar(query) or 0)


def _owned(owner: Principal) -> Any:
    if owner.key_id is not None:
        mine = Conversation.owner_key_id == owner.key_id
    else:  # an OAuth user: never a key's conversations, nor anyone's without subject and issuer
        mine = (
            Conversation.owner_key_id.is_(None)
            & (Conversation.owner_user == owner.user)
            & (Conversation.owner_issuer == owner.issuer)
        )
        if not owner.user or not owner.issuer:
            mine = false()
    return select(Conversation).where(Conversation.tenant == owner.tenant, mine)


def conversation_summary(c: Conversation) -> dict[str, Any]:
    return {
        "id": c.id,
        "title": c.title,
        "model": c.model,
        "created_at": c.created_at.isoformat(),
        "updated_at": c.updated_at.isoformat(),
    }


def passage_dict(p: Passage) -> dict[str, Any]:
    """A passage as JSON: how it is stored and how /v1/assistant/extract shows it."""
    return {
        "id": p.id,
        "index": p.index,
        "start": p.start,
        "end": p.end,
        "text": p.text,
        "heading": p.heading,
        "page_no": p.page_no,
        "tokens": p.tokens,
    }


def _passage(d: dict[str, Any]) -> Passage:
    text = str(d["text"])
    heading = str(d.get("heading") or "")
    return Passage(
        id=str(d["id"]),
        index=int(d["index"]),
        start=int(d["start"]),
        end=int(d["end"]),
        text=text,
        heading=heading,
        page_no=d.get("page_no"),
        tokens=int(d["tokens"]),
        terms=term_counts(text if not heading or heading in text else f"{heading} {text}"),
    )
