"""The anthropic and gemini providers behind the gateway, called with the official openai SDK
(chat completions), against fake upstreams that speak each vendor's wire format."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import orjson
import pytest

from flightdeck.core.settings import load_settings
from flightdeck.testing import FakeAnthropic, FakeGemini
from flightdeck.testing.server import ServerThread
from tests.conftest import MakeSettings, http

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeAnthropic, FakeGemini]]:
    with (
        FakeAnthropic(api_key="sk-ant-test") as anthropic,
        FakeGemini(api_key="AIza-test") as gemini,
    ):
        yield anthropic, gemini


@pytest.fixture(scope="module")
def server(
    fakes: tuple[FakeAnthropic, FakeGemini], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    anthropic, gemini = fakes
    models = [
        {
            "name": "claude",
            "provider": "anthropic",
            "base_url": anthropic.base_url,
            "model": "claude-sonnet-4-5",
            "api_key": "sk-ant-test",
            "headers": {"anthropic-beta": "interleaved-thinking-2025-05-14"},
        },
        {
            "name": "gemini",
            "provider": "gemini",
            "base_url": gemini.base_url,
            "model": "gemini-2.5-flash",
            "api_key": "AIza-test",
        },
        {
            "name": "vertex",
            "provider": "gemini",
            "base_url": gemini.vertex_base_url,
            "model": "gemini-2.5-pro",
            "api_key": "AIza-test",
            "auth": "bearer",
        },
    ]
    data = {"home": str(tmp_path_factory.mktemp("native")), "server": {"port": 0}, "models": models}
    data["router"] = {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.05}
    with ServerThread(load_settings(None, {}, defaults=data)) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)


def test_anthropic_reply_is_a_chat_completion(client: openai.OpenAI, fakes: Any) -> None:
    anthropic, _ = fakes
    reply = client.chat.completions.create(
        model="claude",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello there"},
        ],
    )
    assert reply.choices[0].message.content == "echo: hello there"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.prompt_tokens > 0
    sent = anthropic.record.last_body
    assert sent is not None
    assert sent["model"] == "claude-sonnet-4-5" and sent["max_tokens"] == 4096
    assert sent["system"] == [{"type": "text", "text": "Be brief."}]
    headers = {k.lower(): v for k, v in anthropic.record.last_headers.items()}
    assert headers["x-api-key"] == "sk-ant-test"
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"


@pytest.mark.parametrize("model", ["claude", "gemini", "vertex"])
def test_stream_reassembles_with_usage_last(client: openai.OpenAI, model: str) -> None:
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "one two three four five six"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three four five six"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (
        chunks[-1].usage.total_tokens
        == chunks[-1].usage.prompt_tokens + chunks[-1].usage.completion_tokens
    )


@pytest.mark.parametrize("model", ["claude", "gemini"])
@pytest.mark.parametrize("stream", [False, True])
def test_tool_call_round_trip(client: openai.OpenAI, model: str, stream: bool) -> None:
    messages: list[Any] = [{"role": "user", "content": "find cats"}]
    if stream:
        chunks = list(
            client.chat.completions.create(model=model, messages=messages, tools=TOOLS, stream=True)
        )
        calls: dict[int, dict[str, Any]] = {}
        for chunk in chunks:
            for frag in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                call = calls.setdefault(
                    frag.index, {"id": "", "name": "", "arguments": "", "extra": None}
                )
                call["id"] = frag.id or call["id"]
                call["name"] += (frag.function.name or "") if frag.function else ""
                call["arguments"] += (frag.function.arguments or "") if frag.function else ""
                call["extra"] = (frag.model_extra or {}).get("extra_content") or call["extra"]
        finish = [
            c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
        ]
        assert finish == ["tool_calls"]
        (call,) = calls.values()
    else:
        reply = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
        assert reply.choices[0].finish_reason == "tool_calls"
        (tc,) = reply.choices[0].message.tool_calls or []
        call = {"id": tc.id, "name": tc.function.name, "arguments": tc.function.arguments}  # type: ignore[union-attr]
        call["extra"] = (tc.model_extra or {}).get("extra_content")
    assert call["name"] == "lookup" and json.loads(call["arguments"]) == {"query": "find cats"}
    tool_call: dict[str, Any] = {
        "id": call["id"],
        "type": "function",
        "function": {"name": "lookup", "arguments": call["arguments"]},
    }
    if call["extra"]:
        tool_call["extra_content"] = call["extra"]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [tool_call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "3 cats"},
    ]
    reply = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
    assert reply.choices[0].message.content is not None
    assert reply.choices[0].message.content.startswith("tool said:")
    assert "3 cats" in reply.choices[0].message.content


def test_gemini_thought_signature_goes_back_with_its_function_call(
    client: openai.OpenAI, fakes: Any
) -> None:
    _, gemini = fakes
    reply = client.chat.completions.create(
        model="gemini", messages=[{"role": "user", "content": "x"}], tools=TOOLS
    )
    (call,) = reply.choices[0].message.tool_calls or []
    extra = (call.model_extra or {})["extra_content"]
    assert extra == {"google": {"thought_signature": "c2lnLWZha2UtMDE="}}
    client.chat.completions.create(
        model="gemini",
        messages=[
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{**call.model_dump(exclude_none=True)}]},
            {"role": "tool", "tool_call_id": call.id, "content": '{"n": 3}'},
        ],
        tools=TOOLS,
    )
    sent = gemini.record.last_body
    assert sent is not None
    model_turn = sent["contents"][1]
    assert model_turn["role"] == "model"
    assert model_turn["parts"][0]["thoughtSignature"] == "c2lnLWZha2UtMDE="
    assert sent["contents"][2]["parts"][0]["functionResponse"]["response"] == {"n": 3}


@pytest.mark.parametrize("model", ["claude", "gemini"])
def test_thinking_arrives_as_reasoning_content(client: openai.OpenAI, model: str) -> None:
    extra = {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    reply = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "why"}],
        extra_body=extra,
        max_tokens=4096,
    )
    message = reply.choices[0].message
    assert (message.model_extra or {}).get("reasoning_content") == "Thinking about: why"
    assert message.content == "echo: why"
    if model == "claude":
        (block,) = (message.model_extra or {})["thinking_blocks"]
        assert block["signature"].startswith("sig_")


def test_thinking_without_a_signature_is_dropped_and_counted(server: ServerThread) -> None:
    body = {
        "model": "claude",
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b", "reasoning_content": "unsigned thoughts"},
            {"role": "user", "content": "c"},
        ],
    }
    status, headers, reply = http(
        "POST",
        server.url + "/v1/chat/completions",
        orjson.dumps(body),
        {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
    )
    assert status == 200, reply
    assert headers.get("x-flightdeck-thinking-dropped") == "1"


@pytest.mark.parametrize(
    ("model", "extra", "param"),
    [
        ("claude", {"logit_bias": {"50256": -100}}, "logit_bias"),
        ("claude", {"n": 2}, "n"),
        ("gemini", {"user": "u-1"}, "user"),
        ("claude", {"response_format": {"type": "json_object"}}, "response_format"),
    ],
)
def test_field_the_upstream_cannot_carry_is_a_400_naming_it(
    client: openai.OpenAI, fakes: Any, model: str, extra: dict[str, Any], param: str
) -> None:
    before = sum(f.record.total for f in fakes)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "x"}], extra_body=extra
        )
    assert f"'{param}'" in caught.value.message
    assert sum(f.record.total for f in fakes) == before  # never sent


def test_upstream_400_keeps_its_message(client: openai.OpenAI, fakes: Any) -> None:
    anthropic, _ = fakes
    anthropic.script(
        b'{"type":"error","error":{"type":"invalid_request_error",'
        b'"message":"max_tokens: too big"}}',
        status=400,
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "x"}])
    assert "max_tokens: too big" in caught.value.message


def test_gemini_error_status_is_read(client: openai.OpenAI, fakes: Any) -> None:
    _, gemini = fakes
    body = (
        b'{"error":{"code":429,"message":"Resource has been exhausted",'
        b'"status":"RESOURCE_EXHAUSTED"}}'
    )
    for _ in range(3):
        gemini.script(body, status=429)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gemini", messages=[{"role": "user", "content": "x"}])
    assert "Resource has been exhausted" in caught.value.message
    gemini.scripted.clear()


@pytest.mark.parametrize("bad", ["anthropic", "gemini"])
def test_wrong_credentials_are_a_502_not_the_clients_401(
    make_settings: MakeSettings, serve: Callable[..., ServerThread], fakes: Any, bad: str
) -> None:
    anthropic, gemini = fakes
    fake = anthropic if bad == "anthropic" else gemini
    settings = make_settings(
        [{"name": "m", "provider": bad, "base_url": fake.base_url, "api_key": "wrong"}]
    )
    running = serve(settings)
    client = openai.OpenAI(base_url=running.url + "/v1", api_key=running.api_key, max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 502
