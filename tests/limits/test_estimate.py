"""The admission estimate counts everything a model reads (issue #11, finding 7)."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from PIL import Image

from flightdeck.core.errors import InvalidRequest
from flightdeck.core.tokens import count_tokens
from flightdeck.limits.estimate import (
    check_output_params,
    count_chat_prompt,
    estimate_chat_tokens,
    payload_chars,
)
from flightdeck.limits.image_tokens import MOST_TOKENS, tile_tokens
from flightdeck.wire.anthropic_messages import anthropic_to_chat_messages
from flightdeck.wire.responses import responses_to_chat_request

USER = {"role": "user", "content": "What is the weather?"}
BASE = count_chat_prompt({"messages": [USER]})
SCHEMA = {
    "type": "object",
    "properties": {f"field_{i}": {"type": "string", "description": "x " * 50} for i in range(20)},
}


def png(width: int, height: int) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


@pytest.mark.parametrize(
    ("width", "height", "detail", "tokens"),
    [
        (1024, 1024, "high", 765),  # OpenAI's worked examples: 768x768, 4 tiles
        (2048, 4096, "high", 1105),  # 1024x2048 -> 768x1536, 6 tiles
        (4096, 8192, "low", 85),
        (512, 512, "auto", 255),  # one tile
        (100, 100, "high", 255),
    ],
)
def test_tile_rule_matches_openai_examples(
    width: int, height: int, detail: str, tokens: int
) -> None:
    assert tile_tokens(width, height, detail) == tokens


def test_image_parts_are_counted_by_size_and_detail() -> None:
    def with_image(url: str, detail: str | None = None) -> int:
        image: dict[str, Any] = {"url": url} | ({"detail": detail} if detail else {})
        content = [
            {"type": "text", "text": "What is the weather?"},
            {"type": "image_url", "image_url": image},
        ]
        return count_chat_prompt({"messages": [{"role": "user", "content": content}]}) - BASE

    assert with_image(png(1024, 1024)) == 765
    assert with_image(png(1024, 1024), "low") == 85
    assert with_image("https://example.com/cat.jpg") == MOST_TOKENS  # size unknown: the most
    assert with_image("data:image/png;base64,not-an-image") == MOST_TOKENS


def test_tools_and_response_format_are_counted() -> None:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": SCHEMA}}
    with_tool = count_chat_prompt({"messages": [USER], "tools": [tool]})
    assert with_tool - BASE >= count_tokens(json.dumps(SCHEMA)) * 0.9
    schema = {"type": "json_schema", "json_schema": {"name": "out", "schema": SCHEMA}}
    with_format = count_chat_prompt({"messages": [USER], "response_format": schema})
    assert with_format - BASE >= count_tokens(json.dumps(SCHEMA)) * 0.9


def test_tool_call_arguments_and_tool_results_are_counted() -> None:
    arguments = json.dumps({"query": "weather " * 300})
    call = {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": arguments}}
    calling = {"role": "assistant", "content": None, "tool_calls": [call]}
    result = {"role": "tool", "tool_call_id": "c1", "content": "sunny " * 500}
    total = count_chat_prompt({"messages": [USER, calling, result]})
    assert total - BASE >= count_tokens(arguments) + count_tokens("sunny " * 500)


def test_audio_and_files_are_counted() -> None:
    audio = base64.b64encode(b"\0" * 160_000).decode()  # 10 s at 128 kbit/s
    part = {"type": "input_audio", "input_audio": {"data": audio, "format": "mp3"}}
    content = [{"type": "text", "text": "What is the weather?"}, part]
    assert count_chat_prompt({"messages": [{"role": "user", "content": content}]}) - BASE == 100
    pdf = base64.b64encode(b"%PDF" + b"\0" * 32_000).decode()
    part = {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{pdf}"}}
    content = [{"type": "text", "text": "What is the weather?"}, part]
    assert count_chat_prompt({"messages": [{"role": "user", "content": content}]}) - BASE >= 1000


def test_messages_and_responses_bodies_are_counted_through_their_translation() -> None:
    big = "Looks things up. " * 2000
    responses = responses_to_chat_request(
        {
            "model": "m",
            "input": "What is the weather?",
            "tools": [
                {"type": "function", "name": "lookup", "description": big, "parameters": SCHEMA}
            ],
        }
    )
    assert count_chat_prompt(responses) - BASE > count_tokens(big)
    messages = anthropic_to_chat_messages(
        None,
        [
            {"role": "user", "content": "What is the weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"q": big}}
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": big}],
            },
        ],
    )
    assert count_chat_prompt({"messages": messages}) - BASE > 2 * count_tokens(big)


@pytest.mark.parametrize("name", ["max_tokens", "max_completion_tokens", "n"])
@pytest.mark.parametrize("value", [1.5, "100", True, False, 0, -1, [10], {"a": 1}, 10**30])
def test_bad_output_params_are_refused(name: str, value: Any) -> None:
    with pytest.raises(InvalidRequest) as err:
        check_output_params({name: value}, max_output=4096, max_choices=8)
    assert err.value.param == name


def test_output_params_within_the_caps_pass() -> None:
    check_output_params({"max_tokens": 4096, "n": 8, "max_completion_tokens": None}, 4096, 8)
    assert estimate_chat_tokens({"messages": [USER], "max_tokens": 100, "n": 3})[1] == 300


def test_payload_chars_stops_early() -> None:
    body = {"input": ["hello world"] * 400_000}
    assert 10_000 <= payload_chars(body, 10_000) < 500_000
    assert payload_chars({"input": "short"}, 10_000) == 5
