"""The response cache on the request path, through the official openai SDK against a real server
and the fake upstream (which counts its calls): exact and semantic hits, never across tenants or
model groups, stream replay, TTL, Cache-Control, accounting, purge (docs/caching.md)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from sqlalchemy import select

from flightdeck.auth.keys import Role
from flightdeck.core.settings import load_settings
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import UsageRow
from flightdeck.testing import FakeUpstream
from flightdeck.testing.server import ServerThread, create_key
from tests.conftest import http

CHAT = "/v1/chat/completions"
PRICES = {"m": {"input": 1.0, "output": 2.0}}  # per million tokens


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def server(fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    models = [
        {"name": name, "base_url": fake.base_url, "model": "gpt-4o-mini"}
        for name in ("m", "m2", "s", "short")
    ]
    cache = {
        "models": {
            "s": {"semantic": True, "semantic_threshold": 0.9},
            "short": {"ttl_seconds": 0.5},
        }
    }
    data: dict[str, Any] = {"home": str(tmp_path_factory.mktemp("wiring")), "server": {"port": 0}}
    data |= {"models": models, "cache": cache, "ledger": {"flush_interval_seconds": 0.05}}
    data |= {"limits": {"prices": PRICES}}
    with ServerThread(load_settings(None, {}, defaults=data)) as running:
        yield running


def sdk(server: ServerThread, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key or server.api_key, max_retries=0)


@pytest.fixture(scope="module")
def acme(server: ServerThread) -> openai.OpenAI:
    """A client of another tenant."""
    return sdk(server, asyncio.run(create_key(server.settings, Role.ADMIN, tenant="acme")))


def ask(
    client: openai.OpenAI, text: str, model: str = "m", headers: dict[str, str] | None = None
) -> tuple[str, str, dict[str, Any]]:
    """(x-flightdeck-cache, the answer, the whole reply) of a deterministic question."""
    raw = client.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "user", "content": text}],
        temperature=0,
        extra_headers=headers,
    )
    reply = raw.parse()
    return (
        raw.headers["x-flightdeck-cache"],
        reply.choices[0].message.content or "",
        reply.to_dict(),
    )


def calls(fake: FakeUpstream) -> int:
    return fake.record.counts[CHAT]


def unique(text: str) -> str:
    return f"{text} [{uuid.uuid4().hex[:8]}]"


def test_a_repeated_deterministic_request_is_served_from_the_cache(
    server: ServerThread, fake: FakeUpstream
) -> None:
    client, question = sdk(server), unique("What is the boiling point of water?")
    before = calls(fake)

    first, answer, reply = ask(client, question)
    raw = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": question}], temperature=0
    )
    again = raw.parse()

    assert (first, raw.headers["x-flightdeck-cache"]) == ("miss", "hit")
    assert calls(fake) == before + 1
    assert again.choices[0].message.content == answer
    assert again.id != reply["id"] and again.id.startswith("chatcmpl-")
    assert again.usage is not None and again.usage.prompt_tokens == reply["usage"]["prompt_tokens"]
    assert raw.headers["x-flightdeck-attempts"] == "0"


def test_sampling_requests_bypass_the_cache(server: ServerThread, fake: FakeUpstream) -> None:
    client, question = sdk(server), unique("Tell me a story")
    before = calls(fake)
    for _ in range(2):
        raw = client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": question}], temperature=0.7
        )
        assert raw.headers["x-flightdeck-cache"] == "bypass"
    assert calls(fake) == before + 2
    opted_in = {"x-flightdeck-cache": "use"}
    results = []
    for _ in range(2):
        raw = client.chat.completions.with_raw_response.create(
            model="m",
            messages=[{"role": "user", "content": question}],
            temperature=0.7,
            extra_headers=opted_in,
        )
        results.append(raw.headers["x-flightdeck-cache"])
    assert results == ["miss", "hit"]


def test_two_tenants_asking_the_same_things_never_share_entries(
    server: ServerThread, fake: FakeUpstream, acme: openai.OpenAI
) -> None:
    default = sdk(server)
    questions = [unique("Summarise this page"), unique("What is our refund policy?")]
    before = calls(fake)

    first = [ask(client, q)[0] for q in questions for client in (default, acme)]
    second = [ask(client, q)[0] for q in questions for client in (default, acme)]

    assert first == ["miss"] * 4
    assert second == ["hit"] * 4
    assert calls(fake) == before + 4


def test_model_groups_never_share_entries(server: ServerThread, fake: FakeUpstream) -> None:
    client, question = sdk(server), unique("Same words, other group")
    before = calls(fake)
    results = [ask(client, question, model)[0] for model in ("m", "m2", "m", "m2")]
    assert results == ["miss", "miss", "hit", "hit"]
    assert calls(fake) == before + 2


def test_semantic_hit_for_a_rewording_within_tenant_and_group(
    server: ServerThread, fake: FakeUpstream, acme: openai.OpenAI
) -> None:
    client = sdk(server)
    tag = uuid.uuid4().hex[:6]
    stored = f"What is the capital city of France? ({tag})"
    reworded = f"What's the capital city of France? ({tag})"
    before = calls(fake)

    result, answer, _ = ask(client, stored, "s")
    assert result == "miss"
    strict = {"x-flightdeck-cache-threshold": "0.9999"}
    assert ask(client, reworded, "s", strict)[0] == "miss"  # a raised threshold: no match
    assert ask(acme, reworded, "s")[0] == "miss"  # another tenant
    assert ask(client, reworded, "m")[0] == "miss"  # a group without the semantic cache
    result, served, _ = ask(client, f"What's the capital of Peru? ({tag})", "s")
    assert result == "miss"
    result, served, _ = ask(client, reworded.replace("What's", "What is"), "s")
    assert (result, served) == ("hit", answer)  # the exact repeat of the stored prompt
    result, served, _ = ask(client, f"Which city is the capital of France? ({tag})", "s")
    assert result == "semantic-hit"  # the answer of the nearest stored France question
    assert served in (answer, f"echo: {reworded}")
    assert calls(fake) == before + 5


def test_a_lowered_threshold_header_is_ignored_and_a_bad_one_is_400(server: ServerThread) -> None:
    client = sdk(server)
    with pytest.raises(openai.BadRequestError) as info:
        ask(client, unique("x"), headers={"x-flightdeck-cache-threshold": "2"})
    assert "x-flightdeck-cache-threshold" in str(info.value)
    with pytest.raises(openai.BadRequestError) as info:
        ask(client, unique("x"), headers={"x-flightdeck-cache": "sometimes"})
    assert info.value.body is not None and "x-flightdeck-cache" in str(info.value.body)


def stream(
    client: openai.OpenAI, text: str, *, include_usage: bool, model: str = "m"
) -> tuple[str, list[dict[str, Any]]]:
    extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if include_usage else {}
    raw = client.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "user", "content": text}],
        temperature=0,
        stream=True,
        **extra,
    )
    chunks = [chunk.to_dict() for chunk in raw.parse()]
    return raw.headers["x-flightdeck-cache"], chunks


def without_ids(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chunks without what a replay renews (id, created) and without ``"usage": null``,
    which OpenAI puts on every chunk under include_usage and the fake upstream leaves out."""
    renewed = ("id", "created")
    return [
        {k: v for k, v in c.items() if k not in renewed and (k, v) != ("usage", None)}
        for c in chunks
    ]


@pytest.mark.parametrize("include_usage", [True, False])
def test_a_stream_is_replayed_event_for_event(
    server: ServerThread, fake: FakeUpstream, include_usage: bool
) -> None:
    client, question = sdk(server), unique("one two three four five six seven")
    before = calls(fake)

    first, recorded = stream(client, question, include_usage=include_usage)
    second, replayed = stream(client, question, include_usage=include_usage)

    assert (first, second) == ("miss", "hit")
    assert calls(fake) == before + 1
    assert fake.record.last_body is not None  # the miss asked for the usage it stores
    assert fake.record.last_body["stream_options"] == {"include_usage": True}
    assert without_ids(replayed) == without_ids(recorded)
    assert len(recorded) >= 5
    ids = {c["id"] for c in replayed}
    assert len(ids) == 1 and ids != {c["id"] for c in recorded}
    usage_chunks = [c for c in replayed if c.get("usage")]
    if include_usage:
        assert len(usage_chunks) == 1 and replayed[-1]["choices"] == []
    else:
        assert usage_chunks == [] and all(c["choices"] for c in recorded + replayed)


def test_a_stream_entry_answers_a_plain_request_and_the_other_way_round(
    server: ServerThread, fake: FakeUpstream
) -> None:
    client = sdk(server)
    streamed, replied = unique("alpha beta gamma delta"), unique("epsilon zeta eta")
    _, chunks = stream(client, streamed, include_usage=False)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    before = calls(fake)

    result, answer, _ = ask(client, streamed)
    assert (result, answer) == ("hit", text)
    _, answer, _ = ask(client, replied)
    result, chunks = stream(client, replied, include_usage=True)
    assert result == "hit"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1]) == answer
    assert calls(fake) == before + 1


def test_entries_expire_with_the_groups_ttl(server: ServerThread, fake: FakeUpstream) -> None:
    client, question = sdk(server), unique("How long do you last?")
    assert ask(client, question, "short")[0] == "miss"
    assert ask(client, question, "short")[0] == "hit"
    time.sleep(0.7)  # the group's ttl_seconds is 0.5
    assert ask(client, question, "short")[0] == "miss"


def test_no_store_neither_reads_nor_writes_and_no_cache_refreshes(
    server: ServerThread, fake: FakeUpstream
) -> None:
    client, question = sdk(server), unique("Cache-Control, please")
    before = calls(fake)

    assert ask(client, question, headers={"Cache-Control": "no-store"})[0] == "bypass"
    assert ask(client, question)[0] == "miss"  # no-store left nothing behind
    assert ask(client, question, headers={"Cache-Control": "no-store"})[0] == "bypass"
    assert ask(client, question, headers={"Cache-Control": "no-cache"})[0] == "refresh"
    assert ask(client, question, headers={"x-flightdeck-cache": "refresh"})[0] == "refresh"
    assert ask(client, question)[0] == "hit"

    assert calls(fake) == before + 5


async def ledger_rows(url: str, tenant: str) -> list[UsageRow]:
    store = Store(url)
    try:
        async with store.session() as session:
            query = select(UsageRow).where(UsageRow.tenant == tenant).order_by(UsageRow.id)
            return list((await session.scalars(query)).all())
    finally:
        await store.close()


def test_a_hit_is_recorded_at_zero_cost_with_the_cost_it_saved(
    server: ServerThread, acme: openai.OpenAI
) -> None:
    question = unique("What does the ledger say?")
    url = server.settings.store_url
    time.sleep(0.2)  # earlier requests reach the ledger first
    earlier = len(asyncio.run(ledger_rows(url, "acme")))
    _, _, miss = ask(acme, question)
    ask(acme, question)
    rows: list[UsageRow] = []
    for _ in range(200):  # the ledger writes off the request path
        rows = asyncio.run(ledger_rows(url, "acme"))
        if len(rows) >= earlier + 2:
            break
        time.sleep(0.05)
    miss_row, hit_row = rows[earlier:]
    assert (miss_row.cache_result, hit_row.cache_result) == ("miss", "hit")
    usage = miss["usage"]
    expected = (usage["prompt_tokens"] * 1.0 + usage["completion_tokens"] * 2.0) / 1e6
    assert miss_row.cost == pytest.approx(expected)
    assert miss_row.saved_cost == 0
    assert (hit_row.cost, hit_row.input_tokens, hit_row.output_tokens) == (0, 0, 0)
    assert hit_row.saved_cost == pytest.approx(expected)
    assert hit_row.deployment is None and hit_row.status == 200

    status, _, body = http(
        "GET",
        server.url + "/admin/usage?tenant=acme",
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    assert status == 200
    group = next(g for g in body["data"] if g["group"] == "m")
    assert group["cache_hits"] >= 1
    assert group["cache_hit_rate"] == pytest.approx(group["cache_hits"] / group["requests"])
    assert group["saved_cost"] >= expected * 0.999


def test_purge_deletes_a_tenants_entries_and_only_its_admin_may(
    server: ServerThread, fake: FakeUpstream, acme: openai.OpenAI
) -> None:
    client, question = sdk(server), unique("Forget me")
    for who in (client, acme):
        ask(who, question)
        ask(who, question, "m2")
    member = asyncio.run(create_key(server.settings, Role.MEMBER, tenant="acme"))

    def purge(query: str, key: str) -> tuple[int, Any]:
        status, _, body = http(
            "DELETE",
            server.url + "/admin/cache" + query,
            headers={"Authorization": f"Bearer {key}"},
        )
        return status, body

    assert purge("?tenant=acme", member)[0] == 403  # a member of the tenant
    assert purge("", member)[0] == 403
    status, body = purge("?tenant=acme&model=m", server.api_key)  # a platform admin
    assert status == 200 and body["tenant"] == "acme" and body["deleted"] >= 1

    assert ask(acme, question)[0] == "miss"
    assert ask(acme, question, "m2")[0] == "hit"  # another group: kept
    assert ask(client, question)[0] == "hit"  # another tenant: kept


def test_a_hit_counts_one_request_and_no_tokens(
    fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> None:
    limits = {"default_key": {"requests_per_minute": 3, "tokens_per_minute": 10_000}}
    data: dict[str, Any] = {"home": str(tmp_path_factory.mktemp("limits")), "server": {"port": 0}}
    data |= {"models": [{"name": "m", "base_url": fake.base_url}], "limits": limits}
    with ServerThread(load_settings(None, {}, defaults=data)) as running:
        client = sdk(running)
        question = unique("Count me once")
        remaining = []
        for _ in range(3):
            raw = client.chat.completions.with_raw_response.create(
                model="m",
                messages=[{"role": "user", "content": question}],
                temperature=0,
                max_tokens=20,
            )
            remaining.append(
                (raw.headers["x-flightdeck-cache"], raw.headers["x-ratelimit-remaining-tokens"])
            )
        with pytest.raises(openai.RateLimitError):
            ask(client, question)
    assert [r for r, _ in remaining] == ["miss", "hit", "hit"]
    # the hits took no tokens: what the miss left is what the hits see
    assert remaining[1][1] == remaining[2][1]
    assert int(remaining[1][1]) >= int(remaining[0][1])


def test_the_messages_and_responses_apis_share_the_cache(
    server: ServerThread, fake: FakeUpstream
) -> None:
    question = unique("Which API asked?")
    before = calls(fake)
    auth = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"}
    message = {
        "model": "m",
        "max_tokens": 64,
        "temperature": 0,
        "messages": [{"role": "user", "content": question}],
    }
    results = []
    for _ in range(2):
        status, headers, body = http("POST", server.url + "/v1/messages", json_bytes(message), auth)
        assert status == 200 and body["content"][0]["text"] == f"echo: {question}"
        results.append(headers["x-flightdeck-cache"])
    respond = {"model": "m", "input": question, "temperature": 0, "max_output_tokens": 64}
    status, headers, body = http("POST", server.url + "/v1/responses", json_bytes(respond), auth)
    assert status == 200 and body["output"][0]["content"][0]["text"] == f"echo: {question}"
    results.append(headers["x-flightdeck-cache"])
    assert results == ["miss", "hit", "hit"]  # one chat request underneath all three
    assert calls(fake) == before + 1


def json_bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def test_cache_results_are_counted_in_the_metrics(server: ServerThread) -> None:
    def hits() -> float:
        request = urllib.request.Request(
            server.url + "/metrics", headers={"Authorization": f"Bearer {server.api_key}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        line = next(
            (
                x
                for x in text.splitlines()
                if x.startswith('flightdeck_cache_results_total{result="hit"}')
            ),
            None,
        )
        return float(line.split()[-1]) if line else 0.0

    client, question = sdk(server), unique("Count me")
    ask(client, question)
    before = hits()
    ask(client, question)
    assert hits() == before + 1
