"""A search's outcome as a usage record: its response id, status, error type, result count and
the ranking variants it was served with."""

from __future__ import annotations

import asyncio
import re

import pytest

from flightdeck.auth.keys import Principal, Role
from flightdeck.calls.context import CallContext, ServedVariant
from flightdeck.core.errors import NotFound, RateLimited
from flightdeck.ledger.record import UsageRecord
from flightdeck.search.outcomes import SearchOutcome, search_response_id

PRINCIPAL = Principal(key_id=7, name="k", tenant="acme", role=Role.MEMBER)


def test_response_ids_are_search_prefixed_and_unique() -> None:
    ids = {search_response_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"search-[0-9a-f]{32}", i) for i in ids)


def test_an_answered_search_records_its_hits_and_variant() -> None:
    outcome = SearchOutcome(PRINCIPAL, "photos")
    outcome.result_count = 4
    served = CallContext(PRINCIPAL, model_group="", kind="chat")
    served.variants.append(ServedVariant(3, "loose-ranking", "loose", "key-7"))
    record = outcome.record(served)
    assert (record.tenant, record.key_id, record.model_group) == ("acme", 7, "search:photos")
    assert (record.status, record.error_type, record.result_count) == (200, None, 4)
    assert record.experiments == ((3, "loose", "key-7"),)
    assert record.response_id == outcome.response_id
    assert record.latency_ms is not None and record.latency_ms >= 0
    assert (record.input_tokens, record.output_tokens, record.cost) == (0, 0, 0.0)
    # what the ledger spools while the database is down comes back whole
    assert UsageRecord.from_json(record.to_json()) == record


@pytest.mark.parametrize(
    ("exc", "status", "error_type"),
    [
        (RateLimited("slow down"), 429, "rate_limit_exceeded"),
        (NotFound("gone", code="store_missing"), 404, "store_missing"),
        (asyncio.CancelledError(), 499, "client_gone"),
        (RuntimeError("bug"), 500, "server_error"),
    ],
)
def test_a_failed_search_records_why(exc: BaseException, status: int, error_type: str) -> None:
    outcome = SearchOutcome(PRINCIPAL, "photos")
    outcome.failed(exc)
    record = outcome.record(CallContext(PRINCIPAL, model_group="", kind="chat"))
    assert (record.status, record.error_type, record.result_count) == (status, error_type, None)
