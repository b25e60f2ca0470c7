"""Failure behaviour end to end: fallbacks, deadlines, broken streams, cooldowns, disconnects."""

from __future__ import annotations

import time

import openai
import pytest

from flightdeck.testing import Behaviour, FakeUpstream
from tests.conftest import MakeSettings


def wait_for(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


@pytest.fixture
def backup() -> FakeUpstream:
    with FakeUpstream(Behaviour()) as fake:
        yield fake  # type: ignore[misc]


def client_for(server) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)


def test_flaky_primary_with_healthy_fallback_shows_no_error(
    upstream: FakeUpstream, backup: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    upstream.behaviour.failure_rate = 0.5
    settings = make_settings(
        [
            {"name": "primary", "base_url": upstream.base_url, "fallbacks": ["backup"]},
            {"name": "backup", "base_url": backup.base_url},
        ],
        router={"max_retries": 0, "cooldown_failures": 1000},
    )
    client = client_for(serve(settings))
    for i in range(40):
        reply = client.chat.completions.create(
            model="primary", messages=[{"role": "user", "content": f"q{i}"}]
        )
        assert reply.choices[0].message.content == f"echo: q{i}"
    # Both really served traffic: the primary failed some, the fallback picked those up.
    assert upstream.record.total == 40
    assert 5 <= backup.record.total <= 35


def test_hung_upstream_gives_504_within_the_deadline(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    upstream.behaviour.hang = True
    settings = make_settings(
        [{"name": "slow", "base_url": upstream.base_url}],
        router={"attempt_timeout_seconds": 0.4, "total_timeout_seconds": 1.0},
    )
    client = client_for(serve(settings))
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="slow", messages=[{"role": "user", "content": "x"}])
    elapsed = time.monotonic() - started
    assert info.value.status_code == 504
    assert elapsed < 1.0 + 1.5  # the deadline, plus generous slack for a loaded CI machine


def test_reset_mid_stream_ends_with_an_error_event_and_no_switch(
    upstream: FakeUpstream, backup: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    upstream.behaviour.reset_after_chunks = 2
    settings = make_settings(
        [
            {"name": "primary", "base_url": upstream.base_url, "fallbacks": ["backup"]},
            {"name": "backup", "base_url": backup.base_url},
        ]
    )
    client = client_for(serve(settings))
    received: list[str] = []
    stream = client.chat.completions.create(
        model="primary",
        messages=[{"role": "user", "content": "a b c d e f g h"}],
        stream=True,
    )
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "stream broke" in str(info.value.message)
    assert "".join(received).startswith("echo:")  # what came before the reset did arrive
    assert backup.record.total == 0  # never switched after the first byte


def test_cooled_down_deployment_gets_no_traffic_until_its_probe(
    make_settings: MakeSettings, serve
) -> None:
    with FakeUpstream(Behaviour(failure_rate=1.0)) as bad, FakeUpstream() as good:
        settings = make_settings(
            [
                {"name": "g", "base_url": bad.base_url, "id": "bad"},
                {"name": "g", "base_url": good.base_url, "id": "good"},
            ],
            router={"cooldown_failures": 2, "cooldown_seconds": 1.0, "max_retries": 2},
        )
        client = client_for(serve(settings))

        def ask() -> None:
            client.chat.completions.create(model="g", messages=[{"role": "user", "content": "x"}])

        while bad.record.total < 2:
            ask()  # retries land on the good deployment: no client error
        opened_at = time.monotonic()
        for _ in range(15):
            ask()
        assert time.monotonic() - opened_at < 1.0, "test too slow to observe the cooldown"
        assert bad.record.total == 2  # circuit open: no traffic at all

        time.sleep(1.05)
        bad.behaviour.failure_rate = 0.0
        assert wait_for(lambda: ask() or bad.record.total >= 3, timeout=10)  # the probe
        probes = bad.record.total
        for _ in range(20):
            ask()
        assert bad.record.total > probes  # probe succeeded: traffic is back


def test_client_disconnect_cancels_the_upstream_call(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    upstream.behaviour.hang = True
    client = client_for(serve(make_settings([{"name": "m", "base_url": upstream.base_url}])))
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.5).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
    assert wait_for(lambda: upstream.record.cancelled == 1)


def test_client_leaving_a_stream_cancels_the_upstream_stream(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    upstream.behaviour.stream_chunks = 50
    upstream.behaviour.chunk_delay = 0.2
    client = client_for(serve(make_settings([{"name": "m", "base_url": upstream.base_url}])))
    words = " ".join(f"w{i}" for i in range(50))
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": words}], stream=True
    )
    next(iter(stream))
    stream.close()
    assert wait_for(lambda: upstream.record.cancelled == 1)
