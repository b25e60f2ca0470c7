"""``/admin/console/...`` over real HTTP: admin role only, a tenant admin sees its tenant, a
platform admin every tenant; ranges from 15m to 30d; bad input is a 400 in the admin's shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from tests.server.conftest import Admin

from flightdeck.ledger.record import UsageRecord
from flightdeck.ledger.spool import Spool
from flightdeck.ledger.writer import LedgerWriter
from flightdeck.server.admin.console import parse_range, registry_samples, with_links
from flightdeck.store.database import Store

ROUTES = ["/console/traffic", "/console/usage", "/console/slow", "/console/live"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("caller", "query", "status"),
    [
        (None, "", 401),
        ("acme_member", "", 403),
        ("acme_viewer", "", 403),
        ("acme_admin", "?tenant=globex", 403),
        ("acme_admin", "", 200),
        ("acme_admin", "?tenant=acme", 200),
        ("platform", "", 200),
        ("platform", "?tenant=globex", 200),
    ],
)
async def test_console_access(
    admin: Admin, route: str, caller: str | None, query: str, status: int
) -> None:
    got, data = await admin.call("GET", route + query, caller)
    assert got == status, data
    if status >= 400:
        assert set(data["error"]) == {"message", "type", "param", "code"}
    else:
        assert data["tenant"] == (
            "globex" if "globex" in query else None if caller == "platform" else "acme"
        )


@pytest.mark.parametrize("span", ["1m", "14m", "31d", "721h", "abc", "0h", "1w", "-1h"])
async def test_ranges_outside_15m_to_30d_are_refused(admin: Admin, span: str) -> None:
    status, data = await admin.call("GET", f"/console/traffic?range={span}", "acme_admin")
    assert status == 400 and data["error"]["param"] == "range", data


async def test_a_tenant_admin_sees_its_own_usage_and_the_platform_admin_all(admin: Admin) -> None:
    # the fixture's ledger: acme 3 x 1.5, globex 3 x 7.0 on 2026-11-10..12
    now = datetime.now(UTC)
    if now - datetime(2026, 11, 10, tzinfo=UTC) > timedelta(days=29):
        pytest.skip("the fixture's usage is older than the console's longest range")
    _, acme = await admin.call("GET", "/console/traffic?range=30d", "acme_admin")
    assert sum(acme["requests"]) == 3 and sum(acme["cost"]) == pytest.approx(4.5)
    _, everyone = await admin.call("GET", "/console/usage?range=30d", "platform")
    totals = {(s["tenant"], s["model"]): s["total_cost"] for s in everyone["series"]}
    assert totals == {("acme", "gpt"): pytest.approx(4.5), ("globex", "gpt"): pytest.approx(21)}
    _, mine = await admin.call("GET", "/console/usage?range=30d", "acme_admin")
    assert [s["tenant"] for s in mine["series"]] == ["acme"]


async def test_slowest_requests_and_limiter_rejections(admin: Admin, tmp_path: Path) -> None:
    store = Store(admin.store_url)
    writer = LedgerWriter(store.engine, Spool(tmp_path / "spool2"))
    await writer.start()
    now = datetime.now(UTC) - timedelta(seconds=5)
    for i, latency in enumerate([40.0, 900.0, 120.0]):
        writer.record(
            UsageRecord(
                tenant="acme",
                model_group="gpt",
                status=200,
                deployment="d1",
                latency_ms=latency,
                ttft_ms=latency / 3,
                trace_id=f"{i + 1:032x}",
                ts=now,
            )
        )
    writer.record(
        UsageRecord(tenant="globex", model_group="gpt", status=200, latency_ms=5000.0, ts=now)
    )
    writer.record(
        UsageRecord(
            tenant="acme", model_group="gpt", status=429, error_type="budget_exceeded", ts=now
        )
    )
    await writer.close()
    await store.close()
    _, slow = await admin.call("GET", "/console/slow?range=15m&limit=2", "acme_admin")
    assert [r["trace_id"] for r in slow["data"]] == [f"{2:032x}", f"{3:032x}"]
    assert slow["data"][0]["latency_ms"] == 900.0 and slow["data"][0]["trace_url"] is None
    _, traffic = await admin.call("GET", "/console/traffic?range=15m", "acme_admin")
    assert sum(traffic["requests"]) == 4 and sum(traffic["limited"]) == 1
    assert sum(traffic["errors"]) == 0 and traffic["limited_by"] == {"budget_exceeded": 1}
    assert max(v for v in traffic["latency_ms"]["p99"] if v is not None) == pytest.approx(
        900,
        rel=0.19,  # within one histogram bin
    )


def test_trace_links_fill_the_template_and_quote_the_id() -> None:
    rows = [{"trace_id": "ab" * 16}, {"trace_id": None}, {"trace_id": "a/b?c"}]
    got = with_links(rows, "https://jaeger.example/trace/{trace_id}")
    assert [r["trace_url"] for r in got] == [
        "https://jaeger.example/trace/" + "ab" * 16,
        None,
        "https://jaeger.example/trace/a%2Fb%3Fc",
    ]
    assert with_links(rows, "")[0]["trace_url"] is None


def test_range_words() -> None:
    assert parse_range("15m") == timedelta(minutes=15)
    assert parse_range("30d") == timedelta(days=30)
    assert parse_range("720h") == timedelta(days=30)


def test_live_passes_on_the_registrys_limiter_and_cache_metrics() -> None:
    registry = CollectorRegistry()
    rejections = Counter("flightdeck_limiter_rejections", "", ["scope"], registry=registry)
    rejections.labels("tenant").inc(3)
    Gauge("flightdeck_circuit_state", "", ["deployment"], registry=registry).labels("d1").set(1)
    Histogram("flightdeck_request_duration_seconds", "", registry=registry).observe(0.2)
    got = {(s["name"], tuple(s["labels"].items())): s["value"] for s in registry_samples(registry)}
    assert got == {("flightdeck_limiter_rejections_total", (("scope", "tenant"),)): 3.0}


async def test_long_ranges_are_answered_from_a_short_lived_cache_per_scope(admin: Admin) -> None:
    _, first = await admin.call("GET", "/console/traffic?range=30d", "acme_admin")
    _, again = await admin.call("GET", "/console/traffic?range=30d", "acme_admin")
    _, other = await admin.call("GET", "/console/traffic?range=30d", "globex_admin")
    assert again["to"] == first["to"]  # the same answer: within 60 s
    assert (other["tenant"], first["tenant"]) == ("globex", "acme")
    assert sum(other["cost"]) != sum(first["cost"]) or sum(first["cost"]) == 0
