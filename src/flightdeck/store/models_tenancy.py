"""Tenancy and usage tables: tenants, accounts, limits/budgets, usage records and their rollup.

Migration ``0002_tenancy_usage`` creates them. ``usage_records`` holds one row per request;
``usage_daily`` sums them per (tenant, day, model group, key) in the same transaction, so usage
queries over long ranges read the rollup instead of millions of rows.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from flightdeck.store.models import Base, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Tenant(Base):
    """A team. Keys, accounts, budgets and usage belong to exactly one tenant (by name)."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Account(Base):
    """A user (``kind='user'``, matched by OAuth ``iss`` and ``sub`` together) or a service
    account of a tenant. Migration 0007 added ``issuer``."""

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("tenant", "name", name="uq_accounts_tenant_name"),
        UniqueConstraint("tenant", "issuer", "subject", name="uq_accounts_tenant_issuer_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="user")
    role: Mapped[str] = mapped_column(String(20), default="member")
    subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    issuer: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Collection(Base):
    """A searchable media store (what ``flightdeck media ingest`` wrote) owned by one tenant."""

    __tablename__ = "collections"
    __table_args__ = (UniqueConstraint("tenant", "name", name="uq_collections_tenant_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200))
    uri: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StoreShare(Base):
    """A platform admin's explicit share of a media store with a tenant that does not own it.

    Stores belong to the tenant whose folder of a search root holds them
    (``search/ownership.py``); any other tenant may point a collection at a store only through
    a share, by its ``name`` (``shared:<name>``). Migration 0007 creates the table."""

    __tablename__ = "store_shares"
    __table_args__ = (
        UniqueConstraint("tenant", "name", name="uq_store_shares_tenant_name"),
        UniqueConstraint("tenant", "uri", name="uq_store_shares_tenant_uri"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200))
    uri: Mapped[str] = mapped_column(String(2000))
    created_by: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LimitPolicy(Base):
    """Limits and monthly budget of a tenant (``key_id`` 0) or of one key (``key_id`` > 0), at
    one of two levels: ``ceiling`` (set by a platform admin or an operator) and ``tenant`` (set
    by the tenant's own admins, never above the ceiling). The stricter of the two applies.
    Migration 0007 added ``level``."""

    __tablename__ = "limit_policies"
    __table_args__ = (
        UniqueConstraint("tenant", "key_id", "level", name="uq_limit_policies_scope_level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[int] = mapped_column(Integer, default=0)
    level: Mapped[str] = mapped_column(String(20), default="ceiling")
    requests_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tokens_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    concurrent_requests: Mapped[int | None] = mapped_column(Integer, nullable=True)
    monthly_budget: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UsageRow(Base):
    """One request's usage. ``record_id`` makes replays from the local spool idempotent."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index(
            "ix_usage_records_tenant_ts",
            "tenant",
            "ts",
            postgresql_include=[
                "model_group",
                "key_id",
                "status",
                "input_tokens",
                "output_tokens",
                "cached_tokens",
                "cost",
                "cache_result",
                "saved_cost",
            ],
        ),
        Index("ix_usage_records_ts", "ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(32), unique=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    tenant: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user: Mapped[str | None] = mapped_column(String(255), nullable=True)
    model_group: Mapped[str] = mapped_column(String(200))
    deployment: Mapped[str | None] = mapped_column(String(200), nullable=True)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    ttft_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[int] = mapped_column(Integer)
    error_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    trace_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the response cache: hit | semantic-hit | miss | bypass | refresh (None: not a chat call)
    cache_result: Mapped[str | None] = mapped_column(String(16), nullable=True)
    saved_cost: Mapped[float] = mapped_column(Float, default=0.0)  # what a hit's miss cost
    # a search's hits (None: not a search); migration 0010
    result_count: Mapped[int | None] = mapped_column(Integer, nullable=True)


class UsageDaily(Base):
    """Per (tenant, UTC day, model group, key) sums of ``usage_records``; kept in step on insert."""

    __tablename__ = "usage_daily"

    tenant: Mapped[str] = mapped_column(String(200), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    model_group: Mapped[str] = mapped_column(String(200), primary_key=True)
    key_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: no key (OAuth user)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    cache_hits: Mapped[int] = mapped_column(BigInteger, default=0)
    saved_cost: Mapped[float] = mapped_column(Float, default=0.0)
