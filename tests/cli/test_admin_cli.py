"""``flightdeck tenants|budgets|usage`` as an operator runs them: a real process, real SQLite."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from flightdeck.core.tenancy_settings import LimitRule, LimitsSettings
from flightdeck.ledger.record import UsageRecord
from flightdeck.ledger.spool import Spool
from flightdeck.ledger.writer import LedgerWriter
from flightdeck.limits.policy import PolicyStore
from flightdeck.store.database import Store
from tests.cli.test_cli import flightdeck


def test_tenants_create_and_list(tmp_path: Path) -> None:
    assert flightdeck("tenants", "create", "acme", cwd=tmp_path).returncode == 0
    listed = flightdeck("tenants", "list", cwd=tmp_path)
    assert listed.returncode == 0 and "acme" in listed.stdout
    again = flightdeck("tenants", "create", "acme", cwd=tmp_path)
    assert again.returncode == 2 and "tenant 'acme' already exists" in again.stderr
    bad = flightdeck("tenants", "create", "Not OK", cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr


def test_budgets_set_stores_the_policy(tmp_path: Path) -> None:
    missing = flightdeck("budgets", "set", "--tenant", "nope", "--rpm", "5", cwd=tmp_path)
    assert missing.returncode == 2 and "tenant 'nope' does not exist" in missing.stderr
    flightdeck("tenants", "create", "acme", cwd=tmp_path)
    done = flightdeck(
        "budgets", "set", "--tenant", "acme", "--tpm", "1000", "--monthly", "12.5", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr

    async def stored() -> LimitRule | None:
        store = Store(f"sqlite+aiosqlite:///{tmp_path / '.flightdeck' / 'flightdeck.db'}")
        rule = await PolicyStore(store, LimitsSettings()).get("acme")
        await store.close()
        return rule

    rule = asyncio.run(stored())
    assert rule is not None
    assert (rule.tokens_per_minute, rule.monthly_budget, rule.requests_per_minute) == (
        1000,
        12.5,
        None,
    )
    negative = flightdeck("budgets", "set", "--tenant", "acme", "--rpm", "-1", cwd=tmp_path)
    assert negative.returncode == 2 and "--rpm must not be negative" in negative.stderr


def test_usage_prints_totals_per_day(tmp_path: Path) -> None:
    async def fill() -> None:
        store = Store(f"sqlite+aiosqlite:///{tmp_path / '.flightdeck' / 'flightdeck.db'}")
        await store.migrate()
        writer = LedgerWriter(store.engine, Spool(tmp_path / "spool"))
        await writer.start()
        for day in (3, 3, 4):
            ts = datetime(2026, 11, day, 9, tzinfo=UTC)
            writer.record(UsageRecord(tenant="acme", model_group="gpt", status=200, ts=ts))
        await writer.close()
        await store.close()

    asyncio.run(fill())
    out = flightdeck(
        "usage",
        "--tenant",
        "acme",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--group-by",
        "day",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    rows = [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in out.stdout.splitlines()
        if line.strip().startswith("│ 2026-")
    ]
    assert [row[:2] for row in rows] == [["2026-11-03", "2"], ["2026-11-04", "1"]]
