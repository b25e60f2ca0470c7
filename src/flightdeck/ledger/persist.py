"""Writing a batch of usage records and their daily rollup in one transaction (idempotent)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flightdeck.ledger.record import UsageRecord
from flightdeck.store.models_experiments import ExperimentRequestRow, ExposureRow
from flightdeck.store.models_tenancy import UsageDaily, UsageRow

ROLLUP_SUMS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost",
    "cache_hits",
    "saved_cost",
)


def _insert(conn: AsyncConnection, table: Any) -> postgresql.Insert | sqlite.Insert:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the ledger supports SQLite and PostgreSQL, not {dialect}")


async def write_batch(conn: AsyncConnection, records: Sequence[UsageRecord], chunk: int) -> int:
    """Insert the records not stored yet and add exactly those to ``usage_daily``.

    Run inside a transaction. Returns how many records were new.
    """
    by_id = {r.record_id: r for r in records}
    new_ids: list[str] = []
    rows = [r.to_row() for r in by_id.values()]
    for start in range(0, len(rows), chunk):
        stmt = (
            _insert(conn, UsageRow)
            .on_conflict_do_nothing(index_elements=["record_id"])
            .returning(UsageRow.record_id)
        )
        result = await conn.execute(stmt, rows[start : start + chunk])
        new_ids.extend(result.scalars().all())
    await _write_experiment_links(conn, [by_id[rid] for rid in new_ids], chunk)
    sums: dict[tuple[str, Any, str, int], list[float]] = defaultdict(
        lambda: [0, 0, 0, 0, 0, 0.0, 0, 0.0]
    )
    for rid in new_ids:
        r = by_id[rid]
        s = sums[(r.tenant, r.ts.astimezone(UTC).date(), r.model_group, r.key_id or 0)]
        s[0] += 1
        s[1] += 1 if r.status >= 400 else 0
        s[2] += r.input_tokens
        s[3] += r.output_tokens
        s[4] += r.cached_tokens
        s[5] += r.cost
        s[6] += 1 if r.cache_hit else 0
        s[7] += r.saved_cost
    if not sums:
        return 0
    values = [
        {"tenant": k[0], "day": k[1], "model_group": k[2], "key_id": k[3]}
        | dict(zip(ROLLUP_SUMS, v, strict=True))
        for k, v in sorted(sums.items())  # a fixed order: concurrent replicas never deadlock
    ]
    insert = _insert(conn, UsageDaily)
    upsert = insert.on_conflict_do_update(
        index_elements=["tenant", "day", "model_group", "key_id"],
        set_={c: getattr(UsageDaily, c) + getattr(insert.excluded, c) for c in ROLLUP_SUMS},
    )
    for start in range(0, len(values), chunk):
        await conn.execute(upsert, values[start : start + chunk])
    return len(new_ids)


async def _write_experiment_links(
    conn: AsyncConnection, records: Sequence[UsageRecord], chunk: int
) -> None:
    """For records served in experiments: one ``experiment_requests`` row each, and the unit's
    exposure unless it has one (the first request of a unit in an experiment wins)."""
    requests: list[dict[str, Any]] = []
    exposures: dict[tuple[int, str], dict[str, Any]] = {}
    for r in sorted((r for r in records if r.experiments), key=lambda r: r.ts):
        for experiment_id, variant, unit in r.experiments:
            requests.append(
                {
                    "record_id": r.record_id,
                    "experiment_id": experiment_id,
                    "variant": variant,
                    "unit": unit,
                    "response_id": r.response_id,
                }
            )
            exposures.setdefault(
                (experiment_id, unit),
                {
                    "experiment_id": experiment_id,
                    "unit": unit,
                    "variant": variant,
                    "ts": r.ts.astimezone(UTC),
                    "record_id": r.record_id,
                },
            )
    for table, rows, keys in (
        (ExperimentRequestRow, requests, ["record_id", "experiment_id"]),
        (ExposureRow, [exposures[k] for k in sorted(exposures)], ["experiment_id", "unit"]),
    ):
        for start in range(0, len(rows), chunk):
            stmt = _insert(conn, table).on_conflict_do_nothing(index_elements=keys)
            await conn.execute(stmt, rows[start : start + chunk])
