"""ResponseCache end to end at the library level: exact and semantic hits, isolation, TTL,
refresh, purge, stream replay, and a Redis store shared by two replicas."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import orjson
import pytest

from flightdeck.cache import CacheHit, CachePlan, MemoryBackend, ResponseCache, TextEncoder
from flightdeck.cache.redis_store import RedisBackend, connect
from flightdeck.core.cache_settings import CacheSettings
from flightdeck.core.errors import ConfigError
from tests.cache.conftest import FakeClock
from tests.cache.test_streams import TEXT_STREAM, USAGE, record
from tests.tenancy_support.services import REDIS_URL

SYSTEM = {"role": "system", "content": "Answer in one sentence."}


def body(question: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "gpt",
        "messages": [SYSTEM, {"role": "user", "content": question}],
        "temperature": 0,
        **extra,
    }


def reply(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-up",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }


def make_cache(
    clock: FakeClock, encoder: TextEncoder | None = None, **settings: Any
) -> ResponseCache:
    parsed = CacheSettings.model_validate(settings)
    return ResponseCache(parsed, MemoryBackend(parsed.max_bytes, clock), encoder, clock)


def plan(
    cache: ResponseCache,
    request: dict[str, Any],
    tenant: str = "acme",
    group: str = "gpt",
    headers: dict[str, str] | None = None,
    key_id: int | None = None,
) -> CachePlan:
    return cache.plan(
        tenant=tenant, model_group=group, body=request, headers=headers or {}, key_id=key_id
    )


async def ask(
    cache: ResponseCache, request: dict[str, Any], **kw: Any
) -> tuple[CacheHit | None, CachePlan]:
    chosen = plan(cache, request, **kw)
    return await cache.lookup(chosen), chosen


async def test_a_repeated_request_is_a_hit_with_a_fresh_id(clock: FakeClock) -> None:
    cache = make_cache(clock)
    hit, first = await ask(cache, body("capital of France?"))
    assert hit is None and first.result == "miss"
    assert await cache.store_reply(first, reply("Paris."))
    hit, second = await ask(cache, body("capital of France?", stream=False, top_p=1))
    assert hit is not None and second.result == "hit"
    completion = hit.completion()
    assert completion["choices"][0]["message"]["content"] == "Paris."
    assert completion["id"] != "chatcmpl-up" and completion["usage"] == USAGE
    assert hit.usage == USAGE


async def test_never_across_tenants_or_model_groups(clock: FakeClock) -> None:
    cache = make_cache(clock)
    _, first = await ask(cache, body("capital of France?"), tenant="acme")
    await cache.store_reply(first, reply("Paris."))
    assert (await ask(cache, body("capital of France?"), tenant="globex"))[0] is None
    assert (await ask(cache, body("capital of France?"), group="claude"))[0] is None


async def test_entries_expire_with_the_groups_ttl(clock: FakeClock) -> None:
    cache = make_cache(clock, models={"gpt": {"ttl_seconds": 30}})
    _, first = await ask(cache, body("q"))
    await cache.store_reply(first, reply("a"))
    clock.advance(29)
    assert (await ask(cache, body("q")))[0] is not None
    clock.advance(2)
    hit, again = await ask(cache, body("q"))
    assert hit is None and again.result == "miss"


async def test_no_cache_refreshes_the_entry_and_no_store_leaves_it_alone(clock: FakeClock) -> None:
    cache = make_cache(clock)
    _, first = await ask(cache, body("q"))
    await cache.store_reply(first, reply("old"))
    hit, refresh = await ask(cache, body("q"), headers={"cache-control": "no-cache"})
    assert hit is None and refresh.result == "refresh"
    assert await cache.store_reply(refresh, reply("new"))
    hit, bypass = await ask(cache, body("q"), headers={"cache-control": "no-store"})
    assert hit is None and bypass.result == "bypass"
    assert not await cache.store_reply(bypass, reply("ignored"))
    hit, _ = await ask(cache, body("q"))
    assert hit is not None and hit.completion()["choices"][0]["message"]["content"] == "new"


async def test_sampled_requests_bypass_unless_the_caller_opts_in(clock: FakeClock) -> None:
    cache = make_cache(clock)
    sampled = {**body("q"), "temperature": 0.8}
    _, first = await ask(cache, sampled)
    assert first.result == "bypass" and not await cache.store_reply(first, reply("a"))
    _, opted = await ask(cache, sampled, headers={"x-flightdeck-cache": "use"})
    assert opted.result == "miss" and await cache.store_reply(opted, reply("a"))
    assert (await ask(cache, sampled, headers={"x-flightdeck-cache": "use"}))[0] is not None


async def test_a_stream_is_replayed_and_serves_a_non_stream_request(clock: FakeClock) -> None:
    cache = make_cache(clock)
    streamed = body("q", stream=True, stream_options={"include_usage": True})
    _, first = await ask(cache, streamed)
    recorder = cache.recorder(first)
    assert recorder is not None
    for e in record(TEXT_STREAM).chunks:
        recorder.see(b"data: " + orjson.dumps({**e, "id": "chatcmpl-up", "created": 1}) + b"\n\n")
    recorder.see(b"data: " + orjson.dumps({"choices": [], "usage": USAGE}) + b"\n\n")
    recorder.see(b"data: [DONE]\n\n")
    assert await cache.store_stream(first, recorder)
    hit, again = await ask(cache, streamed)
    assert hit is not None
    events = hit.events(include_usage=again.include_usage)
    assert len(events) == len(TEXT_STREAM) + 2  # the usage chunk and [DONE]
    hit, _ = await ask(cache, body("q"))
    assert hit is not None
    assert hit.completion()["choices"][0]["message"]["content"] == "Paris is the capital."


async def test_a_broken_stream_is_not_stored(clock: FakeClock) -> None:
    cache = make_cache(clock)
    _, first = await ask(cache, body("q", stream=True))
    recorder = cache.recorder(first)
    assert recorder is not None
    recorder.see(b"data: " + orjson.dumps(TEXT_STREAM[0]) + b"\n\n")
    assert not await cache.store_stream(first, recorder)
    assert (await ask(cache, body("q")))[0] is None


async def test_oversized_replies_are_not_stored(clock: FakeClock) -> None:
    cache = make_cache(clock, max_entry_bytes=1000)
    _, first = await ask(cache, body("q"))
    assert not await cache.store_reply(first, reply("x" * 2000))


async def test_purge_deletes_a_tenants_entries(clock: FakeClock) -> None:
    cache = make_cache(clock)
    for tenant in ("acme", "globex"):
        _, p = await ask(cache, body("q"), tenant=tenant)
        await cache.store_reply(p, reply("a"))
    assert await cache.purge("acme") == 1
    assert (await ask(cache, body("q"), tenant="acme"))[0] is None
    assert (await ask(cache, body("q"), tenant="globex"))[0] is not None


def test_semantic_groups_need_an_encoder() -> None:
    with pytest.raises(ConfigError, match="encoder"):
        ResponseCache.from_settings(
            CacheSettings.model_validate({"models": {"g": {"semantic": True}}})
        )


async def test_two_replicas_share_entries_through_redis(redis_prefix: str) -> None:
    settings = CacheSettings(
        backend="redis", redis_url=REDIS_URL, key_prefix=redis_prefix, redis_timeout_seconds=2
    )
    one, two = ResponseCache.from_settings(settings), ResponseCache.from_settings(settings)
    try:
        _, first = await ask(one, body("q"))
        await one.store_reply(first, reply("shared"))
        hit, _ = await ask(two, body("q"))
        assert hit is not None
        assert hit.completion()["choices"][0]["message"]["content"] == "shared"
        assert await two.purge("acme") == 1
        assert (await ask(one, body("q")))[0] is None
    finally:
        await one.close()
        await two.close()


async def test_redis_down_reads_as_a_miss_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = CacheSettings(backend="redis", redis_url="redis://127.0.0.1:1/0")
    cache = ResponseCache(
        settings, RedisBackend(connect(settings.redis_url, 0.2), timeout=0.2), None
    )
    try:
        with caplog.at_level(logging.DEBUG):
            hit, first = await ask(cache, body("a secret question"))
            assert hit is None and first.result == "miss"
            assert not await cache.store_reply(first, reply("a"))
        assert "secret" not in caplog.text
    finally:
        await cache.close()


# ---- semantic: the real MiniLM encoder -------------------------------------------------

SEMANTIC = {"models": {"gpt": {"semantic": True, "semantic_threshold": 0.85}}}


async def test_a_paraphrase_is_a_semantic_hit(clock: FakeClock, minilm: TextEncoder) -> None:
    cache = make_cache(clock, minilm, **SEMANTIC)
    _, first = await ask(cache, body("How do I reset my password?"))
    await cache.store_reply(first, reply("Use the reset link."))
    hit, second = await ask(cache, body("How can I reset my password?"))
    assert hit is not None and second.result == "semantic-hit"
    assert hit.similarity is not None and hit.similarity >= 0.85
    assert hit.completion()["choices"][0]["message"]["content"] == "Use the reset link."


async def test_a_different_question_is_a_miss(clock: FakeClock, minilm: TextEncoder) -> None:
    cache = make_cache(clock, minilm, **SEMANTIC)
    _, first = await ask(cache, body("How do I reset my password?"))
    await cache.store_reply(first, reply("Use the reset link."))
    hit, second = await ask(cache, body("What is the boiling point of water?"))
    assert hit is None and second.result == "miss"


@pytest.mark.parametrize(
    "change",
    [
        {"tenant": "globex"},
        {"group": "gpt-mini"},
        {"request": {"messages": [{"role": "system", "content": "Be verbose."}]}},
        {"request": {"max_tokens": 5}},
        {"request": {"tools": [{"type": "function", "function": {"name": "f"}}]}},
    ],
    ids=["tenant", "model-group", "system-prompt", "parameters", "tools"],
)
async def test_semantic_hits_need_everything_else_to_match(
    clock: FakeClock, minilm: TextEncoder, change: dict[str, Any]
) -> None:
    settings = {
        "models": {g: {"semantic": True, "semantic_threshold": 0.85} for g in ("gpt", "gpt-mini")}
    }
    cache = make_cache(clock, minilm, **settings)
    _, first = await ask(cache, body("How do I reset my password?"))
    await cache.store_reply(first, reply("Use the reset link."))
    request = body("How can I reset my password?")
    extra = change.get("request", {})
    if "messages" in extra:
        request["messages"] = [extra["messages"][0], request["messages"][1]]
    else:
        request.update(extra)
    kw = {k: v for k, v in change.items() if k != "request"}
    hit, _ = await ask(cache, request, **kw)
    assert hit is None


async def test_the_threshold_header_can_refuse_a_loose_match(
    clock: FakeClock, minilm: TextEncoder
) -> None:
    cache = make_cache(clock, minilm, **SEMANTIC)
    _, first = await ask(cache, body("How do I reset my password?"))
    await cache.store_reply(first, reply("Use the reset link."))
    strict = {"x-flightdeck-cache-threshold": "0.999"}
    hit, _ = await ask(cache, body("How can I reset my password?"), headers=strict)
    assert hit is None


async def test_partition_by_key_keeps_semantic_hits_within_one_api_key(
    clock: FakeClock, minilm: TextEncoder
) -> None:
    settings = {
        "models": {"gpt": {"semantic": True, "semantic_threshold": 0.85, "partition_by_key": True}}
    }
    cache = make_cache(clock, minilm, **settings)
    _, first = await ask(cache, body("How do I reset my password?"), key_id=1)
    await cache.store_reply(first, reply("Use the reset link."))
    assert (await ask(cache, body("How can I reset my password?"), key_id=2))[0] is None
    assert (await ask(cache, body("How can I reset my password?"), key_id=1))[0] is not None


async def test_semantic_entries_expire_and_are_purged(
    clock: FakeClock, minilm: TextEncoder
) -> None:
    cache = make_cache(
        clock,
        minilm,
        models={"gpt": {"semantic": True, "semantic_threshold": 0.85, "ttl_seconds": 10}},
    )
    _, first = await ask(cache, body("How do I reset my password?"))
    await cache.store_reply(first, reply("Use the reset link."))
    clock.advance(11)
    assert (await ask(cache, body("How can I reset my password?")))[0] is None
    _, again = await ask(cache, body("How do I reset my password?"))
    await cache.store_reply(again, reply("Use the reset link."))
    await cache.purge("acme", "gpt")
    assert len(cache.index) == 0
    assert (await ask(cache, body("How can I reset my password?")))[0] is None


async def test_a_lookup_in_an_empty_partition_does_not_embed(clock: FakeClock) -> None:
    calls: list[list[str]] = []

    def encoder(texts: list[str]) -> Any:
        calls.append(texts)
        return np.ones((len(texts), 4), np.float32) / 2

    cache = make_cache(clock, encoder, **SEMANTIC)
    hit, first = await ask(cache, body("first question"))
    assert hit is None and calls == []
    await cache.store_reply(first, reply("a"))
    assert calls == [["first question"]]
    hit, _ = await ask(cache, body("second question"))
    assert hit is not None and len(calls) == 2
