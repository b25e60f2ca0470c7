"""Issue #12.1: a 2xx reply is checked inside the attempt, so an invalid one is a failed attempt
(retried, failed over, counted by the circuit, recorded, reservation released) and the client
gets a 502 in the OpenAI error shape saying what came back."""

from __future__ import annotations

import asyncio
import time

import anthropic
import openai
import pytest
from sqlalchemy import select

from flightdeck.core.settings import Settings
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import UsageRow
from flightdeck.testing import FakeUpstream
from flightdeck.testing.fake_anthropic import FakeAnthropic
from flightdeck.testing.fake_gemini import FakeGemini
from tests.conftest import MakeSettings

SIGN_IN = (
    b"<!doctype html><html><head><title>Sign in - Corp SSO</title></head>"
    b"<body><form action='/login?token=ssoSecret123456'>...</form></body></html>"
)
# (name, body, content type, what the 502 message must say)
NOT_A_COMPLETION = [
    ("sign-in page", SIGN_IN, "text/html; charset=utf-8", "200 text/html: '<!doctype html>"),
    ("empty body", b"", "application/json", "200 application/json: an empty body"),
    ("not a completion", b'{"status": "ok"}', "application/json", "no 'choices' array"),
    ("truncated JSON", b'{"id": "x", "choices": [{"mess', "application/json", "expected JSON"),
    ("a JSON array", b"[1, 2, 3]", "application/json", "expected a chat.completion"),
    ("plain text", b"OK", "text/plain", "200 text/plain: 'OK' (expected JSON)"),
    ("bad choice", b'{"choices": [{"text": "hi"}]}', "application/json", "'message' object"),
]
MESSAGES = [{"role": "user", "content": "hi"}]


def client_for(server) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)


async def usage_rows(settings: Settings) -> list[UsageRow]:
    store = Store(settings.store_url)
    try:
        async with store.session() as session:
            return list((await session.scalars(select(UsageRow).order_by(UsageRow.id))).all())
    finally:
        await store.close()


def rows_when(settings: Settings, count: int) -> list[UsageRow]:
    deadline = time.monotonic() + 10
    rows = asyncio.run(usage_rows(settings))
    while len(rows) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = asyncio.run(usage_rows(settings))
    return rows


@pytest.mark.parametrize(("name", "body", "content_type", "says"), NOT_A_COMPLETION)
def test_invalid_reply_is_a_502_saying_what_came_back_and_is_recorded(
    name: str,
    body: bytes,
    content_type: str,
    says: str,
    upstream: FakeUpstream,
    make_settings: MakeSettings,
    serve,
) -> None:
    settings = make_settings(
        [{"name": "m", "base_url": upstream.base_url}],
        router={"max_retries": 0},
        limits={"default_key": {"concurrent_requests": 1}},
        ledger={"flush_interval_seconds": 0.05},
    )
    client = client_for(serve(settings))
    upstream.script(body, content_type=content_type)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.status_code == 502, name
    error = info.value.response.json()["error"]
    assert error["type"] == "upstream_error"
    assert error["code"] == "invalid_upstream_reply"
    assert says in error["message"], error["message"]
    assert "ssoSecret123456" not in error["message"]
    # the reservation was released (concurrency 1 would refuse the next call otherwise)
    reply = client.chat.completions.create(model="m", messages=MESSAGES)
    assert reply.choices[0].message.content == "echo: hi"
    rows = rows_when(settings, 2)
    assert [(r.status, r.error_type) for r in rows] == [(502, "upstream_error"), (200, None)]


def test_invalid_reply_is_retried_then_failed_over(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    with FakeUpstream() as backup:
        settings = make_settings(
            [
                {"name": "primary", "base_url": upstream.base_url, "fallbacks": ["backup"]},
                {"name": "backup", "base_url": backup.base_url},
            ],
            router={"max_retries": 1},
        )
        client = client_for(serve(settings))
        upstream.script(SIGN_IN, content_type="text/html")
        upstream.script(b"", content_type="application/json")
        reply = client.chat.completions.with_raw_response.create(model="primary", messages=MESSAGES)
        assert reply.parse().choices[0].message.content == "echo: hi"
        assert reply.headers["x-flightdeck-model-group"] == "backup"
        assert reply.headers["x-flightdeck-attempts"] == "3"
        assert upstream.record.total == 2 and backup.record.total == 1


def test_invalid_replies_open_the_circuit(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    settings = make_settings(
        [{"name": "m", "base_url": upstream.base_url}],
        router={"max_retries": 0, "cooldown_failures": 2, "cooldown_seconds": 60},
    )
    client = client_for(serve(settings))
    for _ in range(2):
        upstream.script(SIGN_IN, content_type="text/html")
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="m", messages=MESSAGES)
        assert info.value.status_code == 502
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.status_code == 503  # cooling down: the third call never left
    assert upstream.record.total == 2


GOOD_CHUNK = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}'
    b"\n\n"
)


@pytest.mark.parametrize(
    ("name", "body", "content_type", "says"),
    [
        ("html instead of a stream", SIGN_IN, "text/html", "(expected text/event-stream)"),
        ("json instead of a stream", b'{"a": 1}', "application/json", "text/event-stream"),
        ("garbage data lines", b"data: <html>oops</html>\n\n", "text/event-stream", "not JSON"),
        ("wrong event shape", b'data: {"foo": 1}\n\n', "text/event-stream", "'choices'"),
        ("only a done", b"data: [DONE]\n\n", "text/event-stream", None),
    ],
)
def test_invalid_stream_start_fails_over(
    name: str,
    body: bytes,
    content_type: str,
    says: str | None,
    upstream: FakeUpstream,
    make_settings: MakeSettings,
    serve,
) -> None:
    with FakeUpstream() as backup:
        settings = make_settings(
            [
                {"name": "primary", "base_url": upstream.base_url, "fallbacks": ["backup"]},
                {"name": "backup", "base_url": backup.base_url},
            ],
            router={"max_retries": 0},
        )
        client = client_for(serve(settings))
        upstream.script(body, content_type=content_type)
        stream = client.chat.completions.create(model="primary", messages=MESSAGES, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == "echo: hi", name
        assert upstream.record.total == 1 and backup.record.total == 1
        # and without a fallback, the client hears what came back
        only = make_settings([{"name": "m", "base_url": upstream.base_url}], router={})
        lone = client_for(serve(only))
        upstream.script(body, content_type=content_type)
        upstream.script(body, content_type=content_type)
        upstream.script(body, content_type=content_type)
        with pytest.raises(openai.APIStatusError) as info:
            for _ in lone.chat.completions.create(model="m", messages=MESSAGES, stream=True):
                pass
        assert info.value.status_code == 502
        if says is not None:
            assert says in info.value.message


def test_garbage_after_the_first_event_ends_the_stream_with_an_error_event(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    client = client_for(serve(make_settings([{"name": "m", "base_url": upstream.base_url}])))
    upstream.script(GOOD_CHUNK + b"data: {not json at all\n\n" + b"data: [DONE]\n\n")
    with pytest.raises(openai.APIError) as info:
        for _ in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
            pass
    assert "not JSON" in info.value.message
    assert upstream.record.total == 1  # committed once the first event was sent: no retry


@pytest.mark.parametrize("kind", ["anthropic", "gemini"])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (SIGN_IN, "text/html", "text/html: '<!doctype html>"),
        (b'{"unexpected": true}', "application/json", "expected"),
        (b"", "application/json", "an empty body"),
    ],
)
def test_native_providers_check_their_replies_too(
    kind: str,
    stream: bool,
    body: bytes,
    content_type: str,
    says: str,
    make_settings: MakeSettings,
    serve,
) -> None:
    fake = FakeAnthropic() if kind == "anthropic" else FakeGemini()
    with fake:
        settings = make_settings(
            [{"name": "m", "provider": kind, "base_url": fake.base_url}], router={"max_retries": 0}
        )
        client = client_for(serve(settings))
        if stream and content_type == "application/json" and body:
            body, content_type = b"data: " + body + b"\n\n", "text/event-stream"
        fake.script(body, content_type=content_type)
        with pytest.raises(openai.APIStatusError) as info:
            if stream:
                for _ in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
                    pass
            else:
                client.chat.completions.create(model="m", messages=MESSAGES)
        assert info.value.status_code == 502
        assert info.value.response.json()["error"]["code"] == "invalid_upstream_reply"
        if not (stream and content_type == "text/event-stream"):
            assert says in info.value.message


def test_inbound_apis_answer_an_invalid_reply_in_their_own_shape(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    server = serve(
        make_settings([{"name": "m", "base_url": upstream.base_url}], router={"max_retries": 0})
    )
    claude = anthropic.Anthropic(base_url=server.url, api_key=server.api_key, max_retries=0)
    upstream.script(SIGN_IN, content_type="text/html")
    with pytest.raises(anthropic.APIStatusError) as messages:
        claude.messages.create(model="m", max_tokens=5, messages=MESSAGES)  # type: ignore[arg-type]
    assert messages.value.status_code == 502
    assert "upstream answered 200 text/html" in messages.value.message
    assert "ssoSecret123456" not in messages.value.response.text
    upstream.script(b'{"truncated": ', content_type="application/json")
    with pytest.raises(openai.APIStatusError) as responses:
        client_for(server).responses.create(model="m", input="hi")
    assert responses.value.status_code == 502
    assert "(expected JSON)" in responses.value.message
