"""Corpus streams played by the fake Anthropic and Gemini upstreams, cut into 5-byte writes,
through the gateway's providers to the official openai SDK: what the client reassembles is
what the vendor stream said (text, thinking, tool-call ids, names and arguments, usage)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from flightdeck.core.settings import load_settings
from flightdeck.testing import FakeAnthropic, FakeGemini
from flightdeck.testing.server import ServerThread
from tests.wire.corpus import streams
from tests.wire.readers import READERS

# The base and re-split variants (the wire tests replay all four); each cut into 5-byte writes.
CASES = [
    (fmt, name, raw)
    for fmt in ("anthropic", "gemini")
    for name, raw in streams(fmt)
    if name.endswith(("/base", "/fine"))
]


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, Any], openai.OpenAI]]:
    with FakeAnthropic() as anthropic, FakeGemini() as gemini:
        models = [
            {
                "name": "anthropic",
                "provider": "anthropic",
                "base_url": anthropic.base_url,
                "api_key": "k",
            },
            {"name": "gemini", "provider": "gemini", "base_url": gemini.base_url, "api_key": "k"},
        ]
        data = {
            "home": str(tmp_path_factory.mktemp("corpus")),
            "server": {"port": 0},
            "models": models,
        }
        data["router"] = {"max_retries": 0}
        with ServerThread(load_settings(None, {}, defaults=data)) as server:
            client = openai.OpenAI(
                base_url=server.url + "/v1", api_key=server.api_key, max_retries=0
            )
            yield {"anthropic": anthropic, "gemini": gemini}, client


@pytest.mark.parametrize(("fmt", "name", "raw"), CASES, ids=[c[1] for c in CASES])
def test_client_reassembles_what_the_vendor_streamed(
    setup: tuple[dict[str, Any], openai.OpenAI], fmt: str, name: str, raw: bytes
) -> None:
    fakes, client = setup
    truth = READERS[fmt](raw)
    fakes[fmt].script(raw, chunk_size=5)
    text, reasoning, finish, usage = "", "", None, None
    calls: dict[int, dict[str, str]] = {}
    error = None
    try:
        stream = client.chat.completions.create(
            model=fmt,
            messages=[{"role": "user", "content": "x"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in stream:
            usage = chunk.usage or usage
            for choice in chunk.choices:
                delta = choice.delta
                text += delta.content or ""
                reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
                finish = choice.finish_reason or finish
                for frag in delta.tool_calls or []:
                    call = calls.setdefault(frag.index, {"id": "", "name": "", "arguments": ""})
                    call["id"] = frag.id or call["id"]
                    if frag.function is not None:
                        call["name"] += frag.function.name or ""
                        call["arguments"] += frag.function.arguments or ""
    except openai.APIError as exc:
        error = exc.message
    assert (text, reasoning) == (truth.text, truth.reasoning)
    if truth.error is not None:
        assert error is not None and truth.error in error
        return
    assert error is None and finish == truth.finish
    got = [calls[i] for i in sorted(calls)]
    assert [c["name"] for c in got] == [c.name for c in truth.calls]
    for mine, theirs in zip(got, truth.calls, strict=True):
        assert mine["id"] == theirs.id if theirs.id else mine["id"]
        if fmt == "gemini":
            assert json.loads(mine["arguments"]) == json.loads(theirs.arguments)
        else:
            assert mine["arguments"] == theirs.arguments
    assert usage is not None
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details else 0
    write = (getattr(details, "cache_write_tokens", None) or 0) if details else 0
    reasoning_tokens = (
        (usage.completion_tokens_details.reasoning_tokens or 0)
        if usage.completion_tokens_details
        else 0
    )
    assert (
        usage.prompt_tokens,
        usage.completion_tokens,
        cached,
        write,
        reasoning_tokens,
    ) == truth.usage
