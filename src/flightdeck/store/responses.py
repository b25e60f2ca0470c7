"""Stored Responses API responses: what ``GET /v1/responses/{id}`` returns, and the conversation
a ``previous_response_id`` continues.

A response is stored in its tenant (any caller of the tenant may read or delete it, as OpenAI
scopes them to a project), with the conversation up to it as chat messages, until it expires.
Expired rows are never returned and are deleted as new responses are stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from flightdeck.store.database import Store
from flightdeck.store.models import Base

PURGE_EVERY = 64  # stores between two deletions of expired rows


class StoredResponseRow(Base):
    """A stored Responses API response (tenant-scoped, expiring)."""

    __tablename__ = "stored_responses"
    __table_args__ = (Index("ix_stored_responses_expires", "expires_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)  # Unix seconds
    expires_at: Mapped[int] = mapped_column(BigInteger)  # Unix seconds
    response: Mapped[bytes] = mapped_column(LargeBinary)  # the response object, JSON
    messages: Mapped[bytes] = mapped_column(LargeBinary)  # the conversation so far, chat JSON


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A stored response: the ``response`` object and the chat ``messages`` up to and with it."""

    id: str
    response: dict[str, Any]
    messages: list[dict[str, Any]]


class ResponseStore:
    """Save, read and delete stored responses; ``ttl_seconds`` after saving they expire.

    ``clock``: Unix seconds now (``time.time``; tests pass their own).
    """

    def __init__(
        self, store: Store, ttl_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._saves = 0

    async def save(
        self,
        tenant: str,
        key_id: int | None,
        user: str | None,
        response: dict[str, Any],
        messages: list[dict[str, Any]],
    ) -> None:
        now = int(self.clock())
        row = StoredResponseRow(
            id=response["id"],
            tenant=tenant,
            key_id=key_id,
            user=user,
            created_at=now,
            expires_at=now + int(self.ttl_seconds),
            response=orjson.dumps(response),
            messages=orjson.dumps(messages),
        )
        async with self.store.session() as session, session.begin():
            session.add(row)
            self._saves += 1
            if self._saves % PURGE_EVERY == 1:
                await session.execute(
                    delete(StoredResponseRow).where(StoredResponseRow.expires_at < now)
                )

    async def get(self, tenant: str, response_id: str) -> StoredResponse | None:
        """The response if it exists in ``tenant`` and has not expired."""
        query = select(StoredResponseRow).where(
            StoredResponseRow.id == response_id,
            StoredResponseRow.tenant == tenant,
            StoredResponseRow.expires_at > int(self.clock()),
        )
        async with self.store.session() as session:
            row = (await session.scalars(query)).first()
        if row is None:
            return None
        return StoredResponse(row.id, orjson.loads(row.response), orjson.loads(row.messages))

    async def delete(self, tenant: str, response_id: str) -> bool:
        """Delete the response; False when there was none (in this tenant, unexpired)."""
        query = delete(StoredResponseRow).where(
            StoredResponseRow.id == response_id,
            StoredResponseRow.tenant == tenant,
            StoredResponseRow.expires_at > int(self.clock()),
        )
        async with self.store.session() as session, session.begin():
            result = await session.execute(query)
        return bool(getattr(result, "rowcount", 0))
