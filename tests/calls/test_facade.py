"""ModelCalls: one admit -> route -> settle for every plane, with the hooks later layers use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flightdeck.auth.keys import Principal, Role
from flightdeck.calls import Accounting, Attempt, CallContext, ModelCalls
from flightdeck.core.errors import ClientGone, NotFound, UpstreamError
from flightdeck.core.settings import load_settings
from flightdeck.ledger.record import UsageRecord
from flightdeck.store.database import Store
from tests.calls.test_router import Scripted, make_router

ALICE = Principal(7, "alice's key", "acme", Role.MEMBER)
CHAT = {"model": "g", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}


class Hanging(Scripted):
    """Never answers, until cancelled."""

    async def chat(self, body: dict[str, object]) -> object:  # type: ignore[override]
        await asyncio.sleep(3600)
        raise AssertionError("not reached")


@pytest.fixture
async def accounting(tmp_path: Path) -> AsyncIterator[Accounting]:
    """A real Accounting with the embedded defaults; one request at a time per key."""
    settings = load_settings(
        None,
        {},
        defaults={
            "home": str(tmp_path),
            "ledger": {"enabled": False},
            "limits": {"policy_cache_seconds": 0, "default_key": {"concurrent_requests": 1}},
        },
    )
    store = Store(settings.store_url)
    await store.migrate()
    acc = Accounting.from_settings(settings, store)
    await acc.start()
    yield acc
    await acc.close()
    await store.close()


def recorded(accounting: Accounting) -> list[UsageRecord]:
    """Keep what settle records (the ledger writer is off in these tests)."""
    records: list[UsageRecord] = []
    original = accounting.settle

    async def settle(*args: object, **kwargs: object) -> UsageRecord:
        record = await original(*args, **kwargs)  # type: ignore[arg-type]
        records.append(record)
        return record

    accounting.settle = settle  # type: ignore[method-assign]
    return records


async def test_every_upstream_attempt_is_reported_to_the_context(accounting: Accounting) -> None:
    flaky = Scripted("flaky", [UpstreamError("boom", upstream_status=503)])
    calls = ModelCalls(make_router({"g": [(flaky, 1.0)]}), accounting)
    seen: list[Attempt] = []
    ctx = CallContext(ALICE, "g", trace_id="trace-1", on_attempt=seen.append)
    records = recorded(accounting)

    routed = await calls.chat(ctx, CHAT)

    assert routed.attempts == 2
    assert [(a.deployment, a.number, type(a.error)) for a in seen] == [
        ("g#0", 1, UpstreamError),
        ("g#0", 2, type(None)),
    ]
    assert ctx.ticket is not None and ctx.ticket.model_group == "g"
    assert [(r.status, r.trace_id) for r in records] == [(200, "trace-1")]


async def test_an_experiment_can_reroute_by_rewriting_the_model_group(
    accounting: Accounting,
) -> None:
    control, treatment = Scripted("control"), Scripted("treatment")
    calls = ModelCalls(
        make_router({"g": [(control, 1.0)], "g-new": [(treatment, 1.0)]}), accounting
    )
    ctx = CallContext(ALICE, "g")
    ctx.model_group = "g-new"  # what an experiment assignment does before the call

    routed = await calls.chat(ctx, CHAT)

    assert routed.value.json() == {"from": "treatment"}
    assert ctx.ticket is not None and ctx.ticket.model_group == "g-new"


async def test_a_client_that_leaves_cancels_the_call_and_frees_its_reservation(
    accounting: Accounting,
) -> None:
    calls = ModelCalls(make_router({"g": [(Hanging("slow"), 1.0)]}), accounting)
    left = asyncio.Event()
    records = recorded(accounting)

    async def gone() -> None:
        await left.wait()

    task = asyncio.ensure_future(calls.chat(CallContext(ALICE, "g", client_gone=gone), CHAT))
    await asyncio.sleep(0.05)
    left.set()
    with pytest.raises(ClientGone):
        await task
    assert [(r.status, r.error_type) for r in records] == [(499, "client_gone")]
    ticket = await accounting.admit(ALICE, "g", CHAT)  # its concurrency slot is free again
    await ticket.reservation.release()


async def test_unknown_model_is_404_before_anything_is_reserved(accounting: Accounting) -> None:
    calls = ModelCalls(make_router({"g": [(Scripted("d"), 1.0)]}), accounting)
    records = recorded(accounting)
    ctx = CallContext(ALICE, "nope")
    with pytest.raises(NotFound):
        await calls.chat(ctx, CHAT)
    assert ctx.ticket is None and records == []
