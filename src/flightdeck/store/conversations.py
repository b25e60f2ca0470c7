"""Tables of assistant conversations: the conversation, its pages (with passages) and turns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from flightdeck.store.models import Base, utcnow


class Conversation(Base):
    """A conversation belongs to one caller inside one tenant: an API key (``owner_key_id``),
    or an OAuth user (``owner_user``, the token's subject, with ``owner_issuer``, its ``iss``;
    migration 0007)."""

    __tablename__ = "assistant_conversations"
    __table_args__ = (
        Index("ix_assistant_conversations_owner", "tenant", "owner_key_id", "owner_user"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(200))
    owner_key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owner_user: Mapped[str | None] = mapped_column(String(255), nullable=True)
    owner_issuer: Mapped[str | None] = mapped_column(String(500), nullable=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConversationPage(Base):
    """A page of a conversation, with its computed passages, reused by follow-up questions."""

    __tablename__ = "assistant_pages"
    __table_args__ = (Index("ix_assistant_pages_conversation", "conversation_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("assistant_conversations.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    content_key: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text, default="")
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    passages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class ConversationMessage(Base):
    """One turn: the user's question or the assistant's checked answer and its citations."""

    __tablename__ = "assistant_messages"
    __table_args__ = (Index("ix_assistant_messages_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("assistant_conversations.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(20), default="chat")
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
