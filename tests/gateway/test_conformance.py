"""The gateway through the official openai SDK, against a fake upstream on a loopback port."""

from __future__ import annotations

import time

import openai
import pytest

from flightdeck.testing import FakeUpstream
from tests.conftest import MakeSettings, http


@pytest.fixture
def client(upstream: FakeUpstream, make_settings: MakeSettings, serve) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    settings = make_settings(
        [
            {"name": "chat-default", "base_url": upstream.base_url, "model": "gpt-4o-mini"},
            {"name": "embed", "base_url": upstream.base_url, "model": "text-embedding-3-small"},
        ]
    )
    server = serve(settings)
    return openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)


def test_models_lists_every_group(client: openai.OpenAI) -> None:
    assert sorted(m.id for m in client.models.list()) == ["chat-default", "embed"]


def test_chat_completion_rewrites_model_and_returns_upstream_reply(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    reply = client.chat.completions.create(
        model="chat-default", messages=[{"role": "user", "content": "hello there"}]
    )
    assert reply.choices[0].message.content == "echo: hello there"
    assert reply.usage is not None and reply.usage.total_tokens > 0
    assert upstream.record.last_body is not None
    assert upstream.record.last_body["model"] == "gpt-4o-mini"


def test_stream_arrives_incrementally_with_final_usage(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.behaviour.stream_chunks = 4
    upstream.behaviour.chunk_delay = 0.15
    stream = client.chat.completions.create(
        model="chat-default",
        messages=[{"role": "user", "content": "one two three four five six seven eight"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    arrivals: list[float] = []
    text = ""
    usage = None
    for chunk in stream:
        arrivals.append(time.monotonic())
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.usage is not None:
            usage = chunk.usage
    assert text == "echo: one two three four five six seven eight"
    assert usage is not None and usage.completion_tokens > 0
    # Chunks were forwarded as they came, not buffered: they arrived spread over time.
    assert arrivals[-1] - arrivals[0] >= 0.3


def test_embeddings_float_and_base64(client: openai.OpenAI) -> None:
    floats = client.embeddings.create(model="embed", input=["a", "b"], encoding_format="float")
    assert len(floats.data) == 2 and len(floats.data[0].embedding) == 8
    default = client.embeddings.create(model="embed", input="a")  # the SDK asks for base64
    assert len(default.data[0].embedding) == 8


def test_tools_round_trip_unchanged(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    first = client.chat.completions.create(
        model="chat-default",
        messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=tools,  # type: ignore[arg-type]
    )
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert upstream.record.last_body is not None
    assert upstream.record.last_body["tools"] == tools
    second = client.chat.completions.create(
        model="chat-default",
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            first.choices[0].message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
        tools=tools,  # type: ignore[arg-type]
    )
    assert second.choices[0].message.content == "tool said: sunny"


def test_response_format_passed_through(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    reply = client.chat.completions.create(
        model="chat-default",
        messages=[{"role": "user", "content": "json please"}],
        response_format={"type": "json_object"},
    )
    assert reply.choices[0].message.content == '{"ok": true}'
    assert upstream.record.last_body is not None
    assert upstream.record.last_body["response_format"] == {"type": "json_object"}


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "model_not_found"


def test_missing_and_wrong_key_are_401(client: openai.OpenAI) -> None:
    bad = client.with_options(api_key="fd-not-a-key")
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    status, _, body = http("GET", str(client.base_url) + "models")
    assert status == 401
    assert body["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "chat-default", "messages": []}', "messages"),
        (b'{"model": "chat-default", "messages": [{"role": "user"}], "stream": "yes"}', "stream"),
    ],
)
def test_malformed_body_is_400_naming_the_problem(
    client: openai.OpenAI, body: bytes, param: str | None
) -> None:
    status, _, reply = http(
        "POST",
        str(client.base_url) + "chat/completions",
        body,
        {"Authorization": f"Bearer {client.api_key}"},
    )
    assert status == 400
    error = reply["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    assert error["param"] == param


def test_oversized_body_is_413(client: openai.OpenAI) -> None:
    huge = "x" * (9 * 1024 * 1024)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="chat-default", messages=[{"role": "user", "content": huge}]
        )
    assert info.value.status_code == 413


def test_upstream_429_passed_through_with_retry_after(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.behaviour.failure_rate = 1.0
    upstream.behaviour.fail_status = 429
    upstream.behaviour.retry_after = 30  # longer than the router waits: given to the client
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(
            model="chat-default", messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.response.headers["retry-after"] == "30"


def test_upstream_5xx_is_502_with_upstream_reason(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.behaviour.failure_rate = 1.0
    upstream.behaviour.fail_status = 500
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="chat-default", messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.status_code == 502
    assert "fake upstream failure 500" in info.value.message


def test_unreachable_upstream_is_503(make_settings: MakeSettings, serve) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings([{"name": "dead", "base_url": "http://127.0.0.1:9/v1"}])
    server = serve(settings)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="dead", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 503
    assert "cannot reach" in info.value.message
