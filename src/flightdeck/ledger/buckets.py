"""Time buckets in SQL: a range of ``usage_records`` cut into ``step``-second buckets.

The bucket number is integer arithmetic on a record's epoch seconds, which both SQLite
(``strftime('%s', ts)``) and PostgreSQL (``extract(epoch from ts)``) compute; buckets are
aligned to the Unix epoch, so a chart polled every few seconds keeps its buckets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, and_, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from flightdeck.store.models_tenancy import UsageRow

STEPS_SECONDS = (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
"""The bucket widths the console uses; the smallest that gives at most ``MAX_BUCKETS``."""
MAX_BUCKETS = 120


class epoch_seconds(FunctionElement[int]):  # lowercase, like the SQL functions it stands for
    """Whole seconds since the Unix epoch of a timestamp column, as an integer."""

    type = Integer()
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(epoch_seconds)
def _epoch_default(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(floor(extract(epoch from {compiler.process(element.clauses, **kw)})) AS BIGINT)"


def pick_step(span: timedelta) -> int:
    """The bucket width in seconds for a range: at most ``MAX_BUCKETS`` buckets."""
    seconds = span.total_seconds()
    for step in STEPS_SECONDS:
        if seconds / step <= MAX_BUCKETS:
            return step
    return STEPS_SECONDS[-1]


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    """One tenant's records (``tenant=None``: every tenant) in ``[start, end)``, by ``step``.

    ``start`` is aligned down to a multiple of ``step``, so bucket ``i`` covers
    ``[start + i*step, start + (i+1)*step)``.
    """

    tenant: str | None
    start: datetime
    end: datetime
    step: int

    @classmethod
    def last(cls, span: timedelta, tenant: str | None, end: datetime | None = None) -> SeriesQuery:
        """The range ``span`` long that ends at ``end`` (default now), with its step."""
        end = (end or datetime.now(UTC)).astimezone(UTC)
        step = pick_step(span)
        first = math.floor((end - span).timestamp() / step) * step
        return cls(tenant, datetime.fromtimestamp(first, UTC), end, step)

    @property
    def buckets(self) -> int:
        return math.ceil((self.end - self.start).total_seconds() / self.step)

    @property
    def times(self) -> list[int]:
        """The start of every bucket, in Unix seconds (the charts' x values)."""
        first = int(self.start.timestamp())
        return [first + i * self.step for i in range(self.buckets)]

    def bucket(self) -> ColumnElement[int]:
        # inlined numbers: PostgreSQL must see the same expression in SELECT and GROUP BY
        first = literal_column(str(int(self.start.timestamp())), BigInteger())
        step = literal_column(str(self.step), BigInteger())
        return ((epoch_seconds(UsageRow.ts) - first) // step).label("bucket")

    def where(self) -> ColumnElement[bool]:
        within = and_(UsageRow.ts >= self.start, UsageRow.ts < self.end)
        return within if self.tenant is None else and_(UsageRow.tenant == self.tenant, within)
