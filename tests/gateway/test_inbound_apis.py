"""The Anthropic Messages API and the OpenAI Responses API, called with the official anthropic
and openai SDKs, against each kind of upstream (OpenAI-compatible, Anthropic, Gemini fakes)."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from sqlalchemy import select

from flightdeck.core.settings import load_settings
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import UsageRow
from flightdeck.store.responses import ResponseStore
from flightdeck.testing import FakeAnthropic, FakeGemini, FakeUpstream
from flightdeck.testing.server import ServerThread, create_key
from tests.conftest import http

MODELS = ["gpt", "claude", "gemini"]
TOOL = {
    "name": "lookup",
    "description": "Look something up",
    "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
}


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, Any]]:
    with FakeUpstream() as gpt, FakeAnthropic() as claude, FakeGemini() as gemini:
        yield {"gpt": gpt, "claude": claude, "gemini": gemini}


@pytest.fixture(scope="module")
def server(
    fakes: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    models = [
        {"name": "gpt", "base_url": fakes["gpt"].base_url, "model": "gpt-4o-mini"},
        {
            "name": "claude",
            "provider": "anthropic",
            "base_url": fakes["claude"].base_url,
            "api_key": "k",
        },
        {
            "name": "gemini",
            "provider": "gemini",
            "base_url": fakes["gemini"].base_url,
            "api_key": "k",
        },
    ]
    data: dict[str, Any] = {"home": str(tmp_path_factory.mktemp("inbound")), "server": {"port": 0}}
    data |= {"models": models, "ledger": {"flush_interval_seconds": 0.05}}
    with ServerThread(load_settings(None, {}, defaults=data)) as running:
        yield running


@pytest.fixture(scope="module")
def claude_sdk(server: ServerThread) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key=server.api_key, max_retries=0)


@pytest.fixture(scope="module")
def openai_sdk(server: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)


# ---- POST /v1/messages ----------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_messages_reply(claude_sdk: anthropic.Anthropic, model: str) -> None:
    message = claude_sdk.messages.create(
        model=model,
        max_tokens=256,
        system="Be brief.",
        messages=[{"role": "user", "content": "hello there"}],
    )
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "echo: hello there"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn" and message.model == model
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_messages_stream_has_the_documented_event_sequence(
    claude_sdk: anthropic.Anthropic, model: str
) -> None:
    with claude_sdk.messages.stream(
        model=model, max_tokens=256, messages=[{"role": "user", "content": "one two three four"}]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert {
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
    } <= set(kinds)
    assert final.content[0].text == "echo: one two three four"  # type: ignore[union-attr]
    assert final.usage.output_tokens > 0 and final.stop_reason == "end_turn"


def test_messages_stream_on_the_wire_has_a_ping_after_message_start(server: ServerThread) -> None:
    request = urllib.request.Request(
        server.url + "/v1/messages",
        data=b'{"model": "gpt", "max_tokens": 5, "stream": true,'
        b' "messages": [{"role": "user", "content": "x"}]}',
        headers={"x-api-key": server.api_key, "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    names = [line[7:] for line in raw.decode().splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-2:] == ["message_delta", "message_stop"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("streamed", [False, True])
def test_messages_tool_use_and_result(
    claude_sdk: anthropic.Anthropic, model: str, streamed: bool
) -> None:
    turns: list[Any] = [{"role": "user", "content": "find cats"}]
    if streamed:
        with claude_sdk.messages.stream(
            model=model, max_tokens=256, messages=turns, tools=[TOOL]
        ) as s:
            first = s.get_final_message()
    else:
        first = claude_sdk.messages.create(
            model=model, max_tokens=256, messages=turns, tools=[TOOL]
        )
    assert first.stop_reason == "tool_use"
    (use,) = [b for b in first.content if b.type == "tool_use"]
    assert use.name == "lookup" and isinstance(use.input, dict)
    turns += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "3 cats"}],
        },
    ]
    second = claude_sdk.messages.create(model=model, max_tokens=256, messages=turns, tools=[TOOL])
    assert second.content[0].text.startswith("tool said:")  # type: ignore[union-attr]
    assert "3 cats" in second.content[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize("model", ["claude", "gemini"])
def test_messages_thinking_comes_back_and_goes_up_again(
    claude_sdk: anthropic.Anthropic, fakes: dict[str, Any], model: str
) -> None:
    thinking: Any = {"type": "enabled", "budget_tokens": 1024}
    with claude_sdk.messages.stream(
        model=model,
        max_tokens=2048,
        thinking=thinking,
        messages=[{"role": "user", "content": "why"}],
    ) as stream:
        kinds = [e.delta.type for e in stream if e.type == "content_block_delta"]
        message = stream.get_final_message()
    block = message.content[0]
    assert block.type == "thinking" and block.thinking == "Thinking about: why"
    assert "thinking_delta" in kinds
    if model == "gemini":
        return  # Gemini thought summaries carry no Anthropic signature
    assert "signature_delta" in kinds and block.signature.startswith("sig_")
    claude_sdk.messages.create(
        model=model,
        max_tokens=2048,
        thinking=thinking,
        messages=[
            {"role": "user", "content": "why"},
            {
                "role": "assistant",
                "content": [b.model_dump(exclude_none=True) for b in message.content],
            },
            {"role": "user", "content": "and then?"},
        ],
    )
    sent = fakes["claude"].record.last_body["messages"][1]["content"][0]
    assert sent == {
        "type": "thinking",
        "thinking": "Thinking about: why",
        "signature": block.signature,
    }


def test_messages_cache_control_reaches_anthropic_and_cached_tokens_come_back(
    claude_sdk: anthropic.Anthropic, fakes: dict[str, Any]
) -> None:
    system: Any = [
        {
            "type": "text",
            "text": "a long shared prefix " * 50,
            "cache_control": {"type": "ephemeral"},
        }
    ]
    usages = []
    for _ in range(2):
        message = claude_sdk.messages.create(
            model="claude",
            max_tokens=64,
            system=system,
            messages=[{"role": "user", "content": "hi"}],
        )
        usages.append(message.usage)
    assert fakes["claude"].record.last_body["system"] == system
    assert usages[0].cache_creation_input_tokens == 200 and usages[0].cache_read_input_tokens == 0
    assert usages[1].cache_read_input_tokens == 200 and usages[1].cache_creation_input_tokens == 0


@pytest.mark.parametrize("model", MODELS)
def test_count_tokens(claude_sdk: anthropic.Anthropic, model: str) -> None:
    counted = claude_sdk.messages.count_tokens(
        model=model, messages=[{"role": "user", "content": "one two three"}]
    )
    assert counted.input_tokens > 0


def test_messages_errors_have_the_messages_api_shape(
    claude_sdk: anthropic.Anthropic, server: ServerThread
) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude_sdk.messages.create(
            model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert missing.value.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "The model `nope` does not exist"},
    }
    with pytest.raises(anthropic.BadRequestError) as server_tool:
        claude_sdk.messages.create(
            model="claude",
            max_tokens=5,
            messages=[{"role": "user", "content": "x"}],
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
        )
    assert "'tools[0].type'" in server_tool.value.message
    bad = anthropic.Anthropic(base_url=server.url, api_key="fd-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as unauthorized:
        bad.messages.create(
            model="claude", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert unauthorized.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    status, _, body = http(
        "POST",
        server.url + "/v1/messages",
        b'{"model": "claude", "messages": [{"role": "user", "content": "x"}]}',
        {"x-api-key": server.api_key, "content-type": "application/json"},
    )
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]


def test_messages_upstream_failure_mid_stream_is_an_error_event(
    claude_sdk: anthropic.Anthropic, fakes: dict[str, Any]
) -> None:
    fakes["claude"].script(
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"c",'
        b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"Overloaded"}}\n\n'
    )
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        claude_sdk.messages.stream(
            model="claude", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        ) as stream,
    ):
        for _ in stream:
            pass
    assert "Overloaded" in caught.value.message


# ---- POST /v1/responses ---------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_response_is_stored_retrieved_and_deleted(openai_sdk: openai.OpenAI, model: str) -> None:
    response = openai_sdk.responses.create(
        model=model, input="hello there", instructions="Be brief."
    )
    assert response.status == "completed" and response.output_text == "echo: hello there"
    assert response.usage is not None and response.usage.total_tokens > 0
    again = openai_sdk.responses.retrieve(response.id)
    assert again.id == response.id and again.output_text == "echo: hello there"
    openai_sdk.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        openai_sdk.responses.retrieve(response.id)


@pytest.mark.parametrize("model", MODELS)
def test_response_stream_event_sequence_and_final_response(
    openai_sdk: openai.OpenAI, model: str
) -> None:
    with openai_sdk.responses.stream(model=model, input="one two three four") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds and "response.output_item.done" in kinds
    assert final.output_text == "echo: one two three four"
    assert openai_sdk.responses.retrieve(final.id).output_text == final.output_text


def test_previous_response_id_continues_the_stored_conversation(
    openai_sdk: openai.OpenAI, fakes: dict[str, Any]
) -> None:
    first = openai_sdk.responses.create(model="gpt", input="first words", instructions="Old rules.")
    openai_sdk.responses.create(
        model="gpt", input="second words", previous_response_id=first.id, instructions="New rules."
    )
    sent = fakes["gpt"].record.last_body["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [
        ("system", "New rules."),  # instructions are not carried over
        ("user", "first words"),
        ("assistant", "echo: first words"),
        ("user", "second words"),
    ]


@pytest.mark.parametrize("model", MODELS)
def test_response_function_call_then_output(openai_sdk: openai.OpenAI, model: str) -> None:
    tools: Any = [{"type": "function", "name": "lookup", "parameters": TOOL["input_schema"]}]
    first = openai_sdk.responses.create(model=model, input="find cats", tools=tools)
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "lookup"
    second = openai_sdk.responses.create(
        model=model,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "3 cats"}],
        tools=tools,
    )
    assert second.output_text.startswith("tool said:") and "3 cats" in second.output_text


def test_store_false_keeps_nothing(openai_sdk: openai.OpenAI) -> None:
    response = openai_sdk.responses.create(model="gpt", input="secret", store=False)
    with pytest.raises(openai.NotFoundError):
        openai_sdk.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as caught:
        openai_sdk.responses.create(model="gpt", input="more", previous_response_id=response.id)
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_stored_responses_are_tenant_scoped(
    openai_sdk: openai.OpenAI, server: ServerThread
) -> None:
    response = openai_sdk.responses.create(model="gpt", input="ours")
    other_key = asyncio.run(create_key(server.settings, tenant="other-team"))
    other = openai.OpenAI(base_url=server.url + "/v1", api_key=other_key, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError):
        other.responses.create(model="gpt", input="theirs", previous_response_id=response.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(response.id)
    assert openai_sdk.responses.retrieve(response.id).id == response.id


def test_responses_refuse_what_chat_cannot_carry(openai_sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        openai_sdk.responses.create(model="gpt", input="x", tools=[{"type": "web_search"}])
    assert "'tools[0].type'" in caught.value.message


# ---- one request path -----------------------------------------------------------------------


def test_every_inbound_api_is_in_the_usage_ledger(
    server: ServerThread, claude_sdk: anthropic.Anthropic, openai_sdk: openai.OpenAI
) -> None:
    claude_sdk.messages.create(
        model="claude", max_tokens=5, messages=[{"role": "user", "content": "ledger one"}]
    )
    openai_sdk.responses.create(model="gemini", input="ledger two")

    async def groups() -> list[str]:
        store = Store(server.settings.store_url)
        try:
            async with store.session() as session:
                return [r.model_group for r in (await session.scalars(select(UsageRow))).all()]
        finally:
            await store.close()

    deadline = time.monotonic() + 10
    while True:
        seen = asyncio.run(groups())
        if ({"claude", "gemini"} <= set(seen)) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert {"claude", "gemini"} <= set(seen)


async def test_stored_responses_expire(tmp_path: Any) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    await store.migrate()
    now = [1_000_000.0]
    stored = ResponseStore(store, ttl_seconds=60, clock=lambda: now[0])
    try:
        await stored.save("acme", 1, None, {"id": "resp_1"}, [{"role": "user", "content": "x"}])
        assert (await stored.get("acme", "resp_1")) is not None
        assert (await stored.get("other", "resp_1")) is None
        now[0] += 60
        assert (await stored.get("acme", "resp_1")) is None
        assert not await stored.delete("acme", "resp_1")
    finally:
        await store.close()
