"""Three Flightdeck replicas behind the shipped nginx.conf (real nginx, TLS) sharing real
PostgreSQL and Redis: streams pass event by event, limits hold exactly across replicas, a
rolling restart under load shows clients no 5xx, and a ``kill -9`` loses no answered request.

The replicas are ``python -m flightdeck serve`` processes, started once for the module; the
model upstream is the fake OpenAI-wire server. Load is bounded (at most 64 clients, 50 req/s).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from sqlalchemy import select

from flightdeck.auth.keys import KeyStore, Role
from flightdeck.auth.tenants import TenantStore
from flightdeck.core.settings import ServerSettings
from flightdeck.core.tenancy_settings import LimitRule, LimitsSettings, ModelPrice
from flightdeck.limits.estimate import estimate_chat_tokens
from flightdeck.limits.policy import PolicyStore
from flightdeck.limits.prices import PriceTable
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import UsageRow
from flightdeck.testing import Behaviour, FakeUpstream
from tests.deploy_support.nginx import Nginx, nginx_path
from tests.deploy_support.replicas import Replica, replica_config
from tests.tenancy_support.services import REDIS_URL, delete_keys, pg_url, require

pytestmark = pytest.mark.slow
BODY = {
    "model": "m",
    "messages": [{"role": "user", "content": "tell me about the sky over the sea"}],
    "max_tokens": 40,
}
WORDS = 9  # the fake upstream's reply, "echo: tell me ... sea", streamed a word per event
PRICE = {"m": ModelPrice(input=100.0, output=200.0)}  # per million tokens, as in replica_config


@dataclass
class Stack:
    replicas: list[Replica]
    nginx: Nginx
    store_url: str
    ssl: ssl.SSLContext
    upstream: FakeUpstream
    statuses: Counter[int] = field(default_factory=Counter)


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(Behaviour(latency=0.02)) as fake:
        yield fake


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, pg_database: str, upstream: FakeUpstream
) -> Iterator[Stack]:
    require("127.0.0.1", 6379, "Redis")
    nginx_path()
    work = tmp_path_factory.mktemp("replicas")
    prefix = f"fdtest:{uuid.uuid4().hex[:8]}:"
    replicas = []
    for n in range(3):
        config = replica_config(
            work / f"r{n}.toml",
            home=work / f"home{n}",
            store_url=pg_url(pg_database),
            redis_url=REDIS_URL,
            prefix=prefix,
            upstream_url=upstream.base_url,
        )
        replicas.append(Replica(f"r{n}", config, work))
    try:
        for replica in replicas:
            replica.start()
        for replica in replicas:
            replica.wait_ready()
        with Nginx(work / "nginx", [r.port for r in replicas]) as proxy:
            context = ssl.create_default_context(cafile=str(proxy.cert))
            yield Stack(replicas, proxy, pg_url(pg_database), context, upstream)
    finally:  # also when start-up failed: never leave a replica behind
        for replica in replicas:
            replica.close()
        asyncio.run(delete_keys(prefix))


async def make_tenant(store_url: str, rule: LimitRule, keys: int = 1) -> tuple[str, list[str]]:
    """A tenant with limits ``rule`` and ``keys`` member keys; returns (tenant, keys)."""
    tenant = f"t{uuid.uuid4().hex[:8]}"
    store = Store(store_url)
    try:
        await TenantStore(store).create(tenant)
        await PolicyStore(store, LimitsSettings()).set(tenant, rule)
        made = [
            (await KeyStore(store).create(f"k{i}", role=Role.MEMBER, tenant=tenant))[1]
            for i in range(keys)
        ]
        return tenant, made
    finally:
        await store.close()


async def ledger(store_url: str, tenant: str) -> list[tuple[int | None, int, float]]:
    """(key id, status, cost) of every usage record of ``tenant``."""
    store = Store(store_url)
    try:
        async with store.engine.connect() as conn:
            rows = await conn.execute(
                select(UsageRow.key_id, UsageRow.status, UsageRow.cost).where(
                    UsageRow.tenant == tenant
                )
            )
            return [(k, s, c) for k, s, c in rows]
    finally:
        await store.close()


async def ledger_settles(store_url: str, tenant: str, expected: int) -> list[Any]:
    """The tenant's records once ``expected`` are there (the ledger writes within 0.2 s)."""
    records: list[Any] = []
    for _ in range(300):
        records = await ledger(store_url, tenant)
        if len(records) >= expected:
            break
        await asyncio.sleep(0.1)
    return records


@contextlib.asynccontextmanager
async def client(stack: Stack, connections: int = 0) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=connections, ssl=stack.ssl)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield session


async def chat(session: aiohttp.ClientSession, url: str, key: str) -> tuple[int, dict[str, Any]]:
    """One plain chat call; status 0 when the connection failed."""
    headers = {"Authorization": f"Bearer {key}"}
    try:
        async with session.post(url + "/v1/chat/completions", json=BODY, headers=headers) as resp:
            raw = await resp.read()
    except aiohttp.ClientError:
        return 0, {}
    try:
        return resp.status, orjson.loads(raw)
    except orjson.JSONDecodeError:  # e.g. nginx's own HTML error page
        return resp.status, {"raw": raw.decode(errors="replace")}


async def stream(
    session: aiohttp.ClientSession, url: str, key: str
) -> tuple[int, list[tuple[float, bytes]]]:
    """A streamed chat call: its status and each event with the moment it arrived."""
    body = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
    headers = {"Authorization": f"Bearer {key}"}
    events: list[tuple[float, bytes]] = []
    try:
        async with session.post(url + "/v1/chat/completions", json=body, headers=headers) as resp:
            buffer = b""
            async for data in resp.content.iter_any():
                buffer += data
                while b"\n\n" in buffer:
                    event, buffer = buffer.split(b"\n\n", 1)
                    events.append((time.monotonic(), event))
            return resp.status, events
    except aiohttp.ClientError:
        return 0, events


def content_events(events: list[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
    out = []
    for moment, event in events:
        if event.startswith(b"data: {"):
            data = orjson.loads(event[6:])
            if data["choices"] and data["choices"][0]["delta"].get("content"):
                out.append((moment, event))
    return out


@contextlib.contextmanager
def upstream_streams(upstream: FakeUpstream, chunks: int, delay: float) -> Iterator[None]:
    behaviour = upstream.behaviour
    before = (behaviour.stream_chunks, behaviour.chunk_delay)
    behaviour.stream_chunks, behaviour.chunk_delay = chunks, delay
    try:
        yield
    finally:
        behaviour.stream_chunks, behaviour.chunk_delay = before


async def test_a_stream_passes_through_nginx_event_by_event(stack: Stack) -> None:
    _, (key,) = await make_tenant(stack.store_url, LimitRule())
    with upstream_streams(stack.upstream, chunks=WORDS, delay=0.2):
        async with client(stack) as session:
            status, events = await stream(session, stack.nginx.url, key)
    assert status == 200
    assert events[-1][1] == b"data: [DONE]"
    content = content_events(events)
    assert len(content) == WORDS
    # The upstream spaces its events 0.2 s apart; buffered anywhere on the way (nginx, or
    # Flightdeck), they would arrive together at the end. They arrive spread out instead.
    moments = [moment for moment, _ in content]
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert min(gaps) > 0.1, gaps
    print(f"\nstream through nginx: gaps between events {[round(g, 3) for g in gaps]} s")


async def test_nginx_refuses_bodies_over_flightdecks_limit_before_a_replica_sees_them(
    stack: Stack,
) -> None:
    _, (key,) = await make_tenant(stack.store_url, LimitRule())
    limit = ServerSettings().max_body_bytes
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    statuses = {}
    async with client(stack) as session:
        for size in (limit, limit + 1):
            body = b" " * size  # not JSON: Flightdeck itself answers 400
            url = stack.nginx.url + "/v1/chat/completions"
            async with session.post(url, data=body, headers=headers) as resp:
                statuses[size] = (resp.status, resp.headers.get("Server", ""))
    assert statuses[limit][0] == 400  # passed on, and refused by Flightdeck for its content
    assert statuses[limit + 1] == (413, "nginx")  # refused by nginx, never sent on


def one_request_worth(limit: str) -> float:
    """The most one request can reserve: 1 request, its tokens, or its cost in dollars."""
    prompt, most_output = estimate_chat_tokens(BODY)
    if limit == "requests_per_minute":
        return 1
    if limit == "tokens_per_minute":
        return prompt + most_output
    return PriceTable(PRICE).estimate_micros("m", prompt, most_output) / 1e6


@pytest.mark.parametrize("limit", ["requests_per_minute", "tokens_per_minute", "monthly_budget"])
async def test_64_clients_over_three_replicas_overshoot_no_limit(stack: Stack, limit: str) -> None:
    worth = one_request_worth(limit)
    value: float = 30.5 * worth  # room for 30 worst-case requests
    rule = LimitRule(**{limit: int(value) if limit != "monthly_budget" else value})
    tenant, (key,) = await make_tenant(stack.store_url, rule)
    urls = [r.url for r in stack.replicas]

    async def one_client(n: int) -> list[tuple[int, dict[str, Any]]]:
        return [await chat(session, urls[n % 3], key) for _ in range(2)]

    async with client(stack) as session:  # 64 clients, a third on each replica, 128 requests
        per_client = await asyncio.gather(*(one_client(n) for n in range(64)))
    results = [result for requests in per_client for result in requests]
    statuses = Counter(status for status, _ in results)
    assert set(statuses) == {200, 429}, statuses
    records = await ledger_settles(stack.store_url, tenant, 128)
    assert len(records) == 128  # refusals are in the ledger too
    ok = [body for status, body in results if status == 200]
    if limit == "requests_per_minute":
        used: float = len(ok)
    elif limit == "tokens_per_minute":
        used = sum(body["usage"]["total_tokens"] for body in ok)
    else:
        used = sum(cost for _, _, cost in records)
    limit_value = float(getattr(rule, limit))
    overshoot = used - limit_value
    print(
        f"\n{limit}: limit {limit_value:g}, used {used:g}, overshoot {overshoot:+g} "
        f"({overshoot / worth:+.2f} of one request's worth), admitted {len(ok)} of 128"
    )
    assert used <= limit_value + worth
    assert statuses[429] > 0  # the limit was reached, not just approached


async def open_loop(
    session: aiohttp.ClientSession, url: str, key: str, rate: float, stop: asyncio.Event
) -> Counter[int]:
    """Requests at ``rate`` per second, each on its own task, until ``stop``; their statuses."""
    statuses: Counter[int] = Counter()
    tasks: set[asyncio.Task[None]] = set()

    async def one() -> None:
        status, _ = await chat(session, url, key)
        statuses[status] += 1

    started = time.monotonic()
    sent = 0
    while not stop.is_set():
        due = started + sent / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        sent += 1
    await asyncio.gather(*tasks)
    return statuses


async def test_rolling_restart_under_50_requests_a_second_shows_no_5xx(stack: Stack) -> None:
    _, (key,) = await make_tenant(stack.store_url, LimitRule())
    stop = asyncio.Event()
    streams: list[asyncio.Task[tuple[int, list[tuple[float, bytes]]]]] = []
    with upstream_streams(stack.upstream, chunks=WORDS, delay=0.25):
        async with client(stack) as session:
            load = asyncio.create_task(open_loop(session, stack.nginx.url, key, 50, stop))
            await asyncio.sleep(1.0)
            for replica in stack.replicas:
                # Streams in flight on the replica about to stop: one straight to it, three
                # through nginx (spread over the replicas).
                fresh = [asyncio.create_task(stream(session, replica.url, key))]
                fresh += [asyncio.create_task(stream(session, stack.nginx.url, key)) for _ in "abc"]
                streams += fresh
                await asyncio.sleep(0.5)  # the streams are open and flowing
                assert await asyncio.to_thread(replica.stop)  # graceful
                replica.start()
                await asyncio.to_thread(replica.wait_ready)
                await asyncio.sleep(1.0)  # nginx notices it is back
            stop.set()
            statuses = await load
            finished = await asyncio.gather(*streams)
    print(f"\nrolling restart: plain requests {dict(statuses)}, streams {len(finished)}")
    assert statuses[200] > 0
    assert set(statuses) == {200}, statuses  # no 5xx, no connection errors
    for status, events in finished:
        assert status == 200
        assert len(content_events(events)) == WORDS  # every event arrived
        assert events[-1][1] == b"data: [DONE]"


async def test_kill_9_of_a_replica_loses_no_answered_request(stack: Stack) -> None:
    workers = 16
    tenant, keys = await make_tenant(stack.store_url, LimitRule(), keys=workers)
    key_ids = await key_ids_by_key(stack.store_url, tenant)
    answered: Counter[str] = Counter()  # 2xx per key
    failed: Counter[str] = Counter()  # anything else per key
    after_kill: Counter[int] = Counter()
    failures: Counter[int] = Counter()
    killed = asyncio.Event()
    stop = asyncio.Event()
    victim = stack.replicas[2]

    async def worker(session: aiohttp.ClientSession, key: str) -> None:
        while not stop.is_set():  # one request at a time: at most one in flight at the kill
            status, _ = await chat(session, stack.nginx.url, key)
            (answered if status == 200 else failed)[key] += 1
            if status != 200:
                failures[status] += 1
            if killed.is_set():
                after_kill[status] += 1

    async with client(stack) as session:
        tasks = [asyncio.create_task(worker(session, key)) for key in keys]
        await asyncio.sleep(1.5)
        await asyncio.to_thread(victim.kill)
        killed.set()
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*tasks)
    victim.start()  # its next start replays what it had spooled
    await asyncio.to_thread(victim.wait_ready)
    expected = sum(answered.values())
    records = await ledger_settles(stack.store_url, tenant, expected)
    print(
        f"\nkill -9: {expected} answered, failed {dict(failures)}, after the kill "
        f"{dict(after_kill)}, {len(records)} ledger records"
    )
    assert after_kill[200] > 0  # the other replicas kept serving
    assert sum(failed.values()) <= workers  # only requests in flight on the victim failed
    in_ledger = Counter(key_id for key_id, status, _ in records if status == 200)
    for key in keys:
        got = in_ledger[key_ids[key[:10]]]
        # Every answered request exactly once; a request that died with the victim may be
        # recorded (settled just before the kill) but never twice.
        assert answered[key] <= got <= answered[key] + failed[key], (key[:10], got)


async def key_ids_by_key(store_url: str, tenant: str) -> dict[str, int]:
    """Key id by the key's first 10 characters (its stored prefix)."""
    store = Store(store_url)
    try:
        return {k.prefix: k.id for k in await KeyStore(store).list(tenant=tenant)}
    finally:
        await store.close()
