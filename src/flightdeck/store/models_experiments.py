"""Experiment tables (issue #18): definitions, exposures, per-request links to the usage
ledger, and explicit feedback. Migration ``0007_experiments`` creates them.

- ``experiments``: one row per experiment of a tenant (``key`` unique per tenant); variants are
  JSON ``[{"name", "weight", "value"}]``, ``value`` being what the variant changes (a model group,
  a prompt version, request parameters, a ranking configuration).
- ``experiment_exposures``: the first exposure of each unit (primary key: experiment, unit).
- ``experiment_requests``: each request served in an experiment, by usage ``record_id``, so the
  guardrail metrics (latency, TTFT, errors, tokens, cost, cache hits) come from the ledger.
- ``experiment_feedback``: thumbs, ratings and named numeric metrics, by response id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from flightdeck.store.models import Base, utcnow
from flightdeck.store.models_tenancy import BigId


class ExperimentRow(Base):
    """An experiment: its target, variants, metrics and status."""

    __tablename__ = "experiments"
    __table_args__ = (UniqueConstraint("tenant", "key", name="uq_experiments_tenant_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="draft")
    unit: Mapped[str] = mapped_column(String(20))
    surface: Mapped[str] = mapped_column(String(20))
    target_kind: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200))
    variants: Mapped[str] = mapped_column(Text)
    coverage: Mapped[float] = mapped_column(Float, default=1.0)
    layer: Mapped[str] = mapped_column(String(200))
    ns_start: Mapped[float] = mapped_column(Float, default=0.0)
    ns_end: Mapped[float] = mapped_column(Float, default=1.0)
    hash_version: Mapped[int] = mapped_column(Integer, default=2)
    seed: Mapped[str] = mapped_column(String(200), default="")
    metrics: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ExposureRow(Base):
    """The first time a unit saw a variant of an experiment."""

    __tablename__ = "experiment_exposures"

    experiment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit: Mapped[str] = mapped_column(String(255), primary_key=True)
    variant: Mapped[str] = mapped_column(String(200))
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    record_id: Mapped[str] = mapped_column(String(32))


class ExperimentRequestRow(Base):
    """One request served under an experiment's variant."""

    __tablename__ = "experiment_requests"
    __table_args__ = (
        Index("ix_experiment_requests_experiment", "experiment_id"),
        Index("ix_experiment_requests_response", "response_id"),
    )

    record_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    variant: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(255))
    response_id: Mapped[str | None] = mapped_column(String(200), nullable=True)


class FeedbackRow(Base):
    """A user's feedback on a response, an experiment outcome."""

    __tablename__ = "experiment_feedback"
    __table_args__ = (Index("ix_experiment_feedback_response", "tenant", "response_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(200))
    response_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[float] = mapped_column(Float)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
