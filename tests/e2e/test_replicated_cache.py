"""The Redis response cache across replicas: two ``flightdeck serve`` processes sharing Redis and
PostgreSQL, called with the official openai SDK. An entry written by one is a hit on the
other; Redis going away during traffic turns lookups into misses, never into errors."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from flightdeck.auth.keys import KeyStore, Role
from flightdeck.store.database import Store
from flightdeck.testing import FakeUpstream
from flightdeck.testing.server import free_port
from tests.tenancy_support.services import delete_keys, pg_url, require
from tests.tenancy_support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow
CHAT = "/v1/chat/completions"
PROBE_SECONDS = 0.5


def config(home: Path, store_url: str, redis_port: int, prefix: str, upstream: str) -> str:
    return f"""
home = "{home}"
[store]
url = "{store_url}"
[cache]
backend = "redis"
redis_url = "redis://127.0.0.1:{redis_port}/0"
key_prefix = "{prefix}"
redis_timeout_seconds = 0.25
probe_seconds = {PROBE_SECONDS}
[ledger]
flush_interval_seconds = 0.2
[[models]]
name = "m"
base_url = "{upstream}"
"""


async def member_key(url: str) -> str:
    store = Store(url)
    try:
        await store.migrate()
        _, key = await KeyStore(store).create("cache", role=Role.MEMBER, tenant="default")
        return key
    finally:
        await store.close()


class Replicas:
    def __init__(self, urls: list[str], key: str, proxy: TcpProxy, fake: FakeUpstream) -> None:
        self.clients = [
            openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=20)
            for url in urls
        ]
        self.proxy = proxy
        self.fake = fake

    def ask(self, replica: int, text: str) -> str:
        raw = self.clients[replica].chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": text}], temperature=0
        )
        assert raw.parse().choices[0].message.content == f"echo: {text}"
        return raw.headers["x-flightdeck-cache"]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory, pg_database: str) -> Iterator[Replicas]:
    require("127.0.0.1", 6379, "Redis")
    tmp = tmp_path_factory.mktemp("replicated-cache")
    prefix = f"fdtest:{uuid.uuid4().hex[:8]}:cache:"
    store_url = pg_url(pg_database)
    key = asyncio.run(member_key(store_url))
    procs: list[subprocess.Popen[bytes]] = []
    with FakeUpstream() as fake, TcpProxy("127.0.0.1", 6379) as proxy:
        urls = []
        try:
            for n in range(2):
                port = free_port()
                path = tmp / f"r{n}.toml"
                path.write_text(
                    config(tmp / f"home{n}", store_url, proxy.port, prefix, fake.base_url)
                )
                log = (tmp / f"r{n}.log").open("wb")
                command = [sys.executable, "-m", "flightdeck", "serve", "--config", str(path)]
                procs.append(
                    subprocess.Popen(
                        [*command, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
                    )
                )
                urls.append(f"http://127.0.0.1:{port}")
            deadline = time.monotonic() + 90
            for url in urls:
                while True:
                    try:
                        with urllib.request.urlopen(url + "/healthz", timeout=2):
                            break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise RuntimeError((tmp / "r0.log").read_text()) from None
                        time.sleep(0.2)
            yield Replicas(urls, key, proxy, fake)
        finally:  # also when start-up failed: never leave a replica behind
            for p in procs:
                p.send_signal(signal.SIGINT)
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
            asyncio.run(delete_keys(prefix))


def test_an_entry_written_by_one_replica_is_a_hit_on_the_other(replicas: Replicas) -> None:
    question = f"Which replica answers? {uuid.uuid4().hex[:8]}"
    before = replicas.fake.record.counts[CHAT]

    results = [replicas.ask(0, question), replicas.ask(1, question), replicas.ask(0, question)]

    assert results == ["miss", "hit", "hit"]
    assert replicas.fake.record.counts[CHAT] == before + 1


def test_redis_going_away_during_traffic_degrades_to_misses(replicas: Replicas) -> None:
    tag = uuid.uuid4().hex[:8]
    questions = [f"question {i} {tag}" for i in range(4)]
    for i, q in enumerate(questions):  # stored while Redis is there
        assert replicas.ask(i % 2, q) == "miss"
    assert [replicas.ask(1 - i % 2, q) for i, q in enumerate(questions)] == ["hit"] * 4

    replicas.proxy.cut()  # connections dropped, the port refuses new ones
    try:
        during = [replicas.ask(i % 2, q) for i in range(3) for q in questions]
    finally:
        replicas.proxy.restore()
    assert during == ["miss"] * len(during)  # answered by the model, never an error

    time.sleep(PROBE_SECONDS + 0.3)  # Redis is tried again after probe_seconds
    after = [replicas.ask(i % 2, questions[0]) for i in range(2)]
    assert after == ["hit", "hit"]
