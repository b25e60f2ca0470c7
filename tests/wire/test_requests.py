"""Requests and non-streaming replies between each format and the internal chat model.

Round trips must give back what went in; what a format cannot carry is a 400 naming the field.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flightdeck.core.errors import InvalidRequest, UpstreamError
from flightdeck.wire.anthropic import (
    anthropic_to_chat_completion,
    anthropic_to_chat_request,
    chat_to_anthropic_message,
    chat_to_anthropic_request,
    error_body,
)
from flightdeck.wire.chat import Notes
from flightdeck.wire.gemini import chat_to_gemini_request, gemini_to_chat_completion
from flightdeck.wire.responses import (
    completion_to_response,
    response_to_chat_completion,
    responses_to_chat_request,
)

CACHE = {"type": "ephemeral"}
PNG = "iVBORw0KGgo="

# What a coding agent sends to POST /v1/messages: every block kind the translation carries.
MESSAGES_REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 2048,
    "system": [
        {"type": "text", "text": "You are a coding agent."},
        {"type": "text", "text": "Repository map: ...", "cache_control": CACHE},
    ],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this screenshot and this PDF?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                {
                    "type": "document",
                    "source": {
                        "type": "base64",
                        "media_type": "application/pdf",
                        "data": "JVBERi0=",
                    },
                    "title": "spec.pdf",
                    "cache_control": CACHE,
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Look at the files first.", "signature": "sig-1"},
                {"type": "redacted_thinking", "data": "opaque=="},
                {"type": "text", "text": "Let me read them."},
                {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {"path": "a.py"}},
                {"type": "tool_use", "id": "toolu_2", "name": "read", "input": {"path": "b.py"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "print(1)"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": "no such file"}],
                    "is_error": True,
                    "cache_control": CACHE,
                },
                {"type": "text", "text": "Go on."},
            ],
        },
    ],
    "tools": [
        {
            "name": "read",
            "description": "Read a file",
            "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
            "cache_control": CACHE,
        }
    ],
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "stop_sequences": ["\n\nHuman:"],
    "temperature": 0.2,
    "top_k": 40,
    "metadata": {"user_id": "u-42"},
    "output_config": {"effort": "high"},
    "stream": True,
}


def test_messages_request_survives_the_round_trip_through_chat() -> None:
    chat = anthropic_to_chat_request(copy.deepcopy(MESSAGES_REQUEST))
    notes = Notes()
    back = chat_to_anthropic_request(chat, model="claude-sonnet-4-5", notes=notes)
    assert back == MESSAGES_REQUEST
    assert notes.dropped_thinking == 0


def test_messages_request_becomes_the_chat_request_openai_upstreams_take() -> None:
    chat = anthropic_to_chat_request(copy.deepcopy(MESSAGES_REQUEST))
    roles = [m["role"] for m in chat["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "tool", "user"]
    image = chat["messages"][1]["content"][1]
    assert image == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    assistant = chat["messages"][2]
    assert assistant["reasoning_content"] == "Look at the files first."
    assert assistant["tool_calls"][0]["function"] == {
        "name": "read",
        "arguments": '{"path":"a.py"}',
    }
    assert chat["messages"][4]["is_error"] is True
    assert (chat["max_completion_tokens"], chat["stop"], chat["user"]) == (
        2048,
        ["\n\nHuman:"],
        "u-42",
    )
    assert chat["parallel_tool_calls"] is False and chat["reasoning_effort"] == "high"


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"logit_bias": {"1": 2}}, "logit_bias"),
        ({"n": 2}, "n"),
        ({"seed": 7}, "seed"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"reasoning_effort": "minimal"}, "reasoning_effort"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type"),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "late"}]},
            "messages[1]",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}
                ]
            },
            "messages[0].content[0].type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image_url",
                                "image_url": {"url": "https://x/y.png", "detail": "high"},
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].image_url.detail",
        ),
        ({"messages": [{"role": "user", "content": "a", "name": "alice"}]}, "messages[0].name"),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "1",
                                "type": "function",
                                "function": {"name": "f", "arguments": "[1]"},
                            }
                        ],
                    }
                ]
            },
            "messages[0].tool_calls[0].function.arguments",
        ),
    ],
)
def test_chat_fields_anthropic_cannot_carry_are_refused(change: dict[str, Any], param: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **change}
    with pytest.raises(InvalidRequest) as caught:
        chat_to_anthropic_request(body, model="claude")
    assert caught.value.param == param
    assert f"'{param}'" in caught.value.message


def test_defaults_that_change_nothing_are_not_refused() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 1}
    body |= {"stream_options": {"include_usage": True}, "presence_penalty": 0, "logprobs": False}
    assert chat_to_anthropic_request(body, model="claude")["messages"] == [
        {"role": "user", "content": "hi"}
    ]


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"container": "c1"}, "container"),
        ({"service_tier": "standard_only"}, "service_tier"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
                    }
                ]
            },
            "messages[0].content[0].source.type",
        ),
        ({"metadata": {"user_id": "u", "team": "x"}}, "metadata.team"),
        ({"output_config": {"format": {"type": "grammar"}}}, "output_config.format.type"),
    ],
)
def test_messages_fields_chat_cannot_carry_are_refused(change: dict[str, Any], param: str) -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        **change,
    }
    with pytest.raises(InvalidRequest) as caught:
        anthropic_to_chat_request(body)
    assert caught.value.param == param


def test_unsigned_thinking_and_gemini_signatures_are_dropped_for_anthropic_and_counted() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b", "reasoning_content": "from deepseek"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                        "extra_content": {"google": {"thought_signature": "gsig"}},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        ],
    }
    notes = Notes()
    out = chat_to_anthropic_request(body, model="claude", notes=notes)
    assert notes.dropped_thinking == 2
    assert out["messages"][1]["content"] == [
        {"type": "text", "text": "b"},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {}},
    ]


# ---- Gemini ---------------------------------------------------------------------------------


def test_chat_request_as_generate_content() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            },
            {
                "role": "assistant",
                "content": "calling",
                "thinking_blocks": [
                    {"type": "thinking", "thinking": "t", "signature": "anthropic-sig"}
                ],
                "extra_content": {"google": {"thought_signature": "text-sig"}},
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"a": 1}'},
                        "extra_content": {"google": {"thought_signature": "call-sig"}},
                    },
                    {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"result": 2}'},
            {"role": "tool", "tool_call_id": "c2", "content": "plain text", "is_error": True},
        ],
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
        ],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "max_tokens": 100,
        "stop": "END",
        "thinking": {"type": "enabled", "budget_tokens": 512},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object"}},
        },
    }
    notes = Notes()
    out = chat_to_gemini_request(body, notes=notes)
    assert out["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert out["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    model = out["contents"][1]
    assert model["role"] == "model"
    assert model["parts"][0] == {"text": "calling", "thoughtSignature": "text-sig"}
    assert model["parts"][1] == {
        "functionCall": {"name": "f", "args": {"a": 1}, "id": "c1"},
        "thoughtSignature": "call-sig",
    }
    responses = out["contents"][2]["parts"]
    assert [p["functionResponse"]["response"] for p in responses] == [
        {"result": 2},
        {"error": "plain text"},
    ]
    assert [p["functionResponse"]["name"] for p in responses] == ["f", "g"]
    assert out["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}
    }
    config = out["generationConfig"]
    assert config["maxOutputTokens"] == 100 and config["stopSequences"] == ["END"]
    assert config["thinkingConfig"] == {"thinkingBudget": 512, "includeThoughts": True}
    assert config["responseJsonSchema"] == {"type": "object"}
    assert notes.dropped_thinking == 1  # the Anthropic-signed block has no place in Gemini


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"user": "u"}, "user"),
        ({"logit_bias": {"1": 1}}, "logit_bias"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "strict": True}}]},
            "tools[0].function.strict",
        ),
        (
            {"messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]},
            "messages[0].tool_call_id",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "https://x/noext"}}],
                    }
                ]
            },
            "messages[0].content[0].image_url.url",
        ),
    ],
)
def test_chat_fields_gemini_cannot_carry_are_refused(change: dict[str, Any], param: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **change}
    with pytest.raises(InvalidRequest) as caught:
        chat_to_gemini_request(body)
    assert caught.value.param == param


def test_gemini_reply_with_calls_finishes_with_tool_calls() -> None:
    reply = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "hm", "thought": True},
                        {
                            "functionCall": {"name": "f", "args": {"x": [1]}},
                            "thoughtSignature": "s",
                        },
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 5,
            "thoughtsTokenCount": 3,
        },
    }
    completion = gemini_to_chat_completion(reply)
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["reasoning_content"] == "hm"
    (call,) = choice["message"]["tool_calls"]
    assert call["function"] == {"name": "f", "arguments": '{"x":[1]}'}
    assert call["extra_content"] == {"google": {"thought_signature": "s"}}
    assert completion["usage"]["completion_tokens"] == 8
    assert completion["usage"]["completion_tokens_details"] == {"reasoning_tokens": 3}


def test_gemini_blocked_prompt_is_a_content_filter_finish() -> None:
    completion = gemini_to_chat_completion({"promptFeedback": {"blockReason": "SAFETY"}})
    assert completion["choices"][0]["finish_reason"] == "content_filter"


def test_gemini_part_chat_has_no_place_for_is_an_upstream_error() -> None:
    reply = {"candidates": [{"content": {"parts": [{"executableCode": {"code": "1"}}]}}]}
    with pytest.raises(UpstreamError, match="executableCode"):
        gemini_to_chat_completion(reply)


# ---- Responses ------------------------------------------------------------------------------


def test_responses_input_items_become_chat_turns() -> None:
    body = {
        "model": "m",
        "instructions": "Be exact.",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "weather?"},
                    {"type": "input_image", "image_url": "https://x/y.png"},
                ],
            },
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "call it"}],
                "encrypted_content": "sig",
            },
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "w",
                "arguments": '{"c": "Oslo"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "-3C"},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "It is -3C."}],
            },
            {"role": "user", "content": "thanks"},
        ],
        "tools": [{"type": "function", "name": "w", "parameters": {"type": "object"}}],
        "reasoning": {"effort": "low", "summary": "auto"},
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}},
        "max_output_tokens": 50,
        "include": ["reasoning.encrypted_content"],
        "store": False,
    }
    previous = [{"role": "user", "content": "earlier"}]  # stored without its instructions
    chat = responses_to_chat_request(body, previous)
    assert [m["role"] for m in chat["messages"]] == [
        "system",
        "user",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert chat["messages"][0]["content"] == "Be exact."
    assert chat["messages"][1]["content"] == "earlier"
    turn = chat["messages"][3]
    assert turn["thinking_blocks"] == [
        {"type": "thinking", "thinking": "call it", "signature": "sig"}
    ]
    assert turn["tool_calls"][0]["function"]["arguments"] == '{"c": "Oslo"}'
    assert chat["tools"] == [
        {"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}
    ]
    assert chat["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert (chat["reasoning_effort"], chat["max_completion_tokens"]) == ("low", 50)


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"background": True}, "background"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
        ({"include": ["message.output_text.logprobs"]}, "include"),
        ({"conversation": "conv_1"}, "conversation"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input[0].content[0].file_id",
        ),
    ],
)
def test_responses_fields_chat_cannot_carry_are_refused(change: dict[str, Any], param: str) -> None:
    body = {"model": "m", "input": "hi", **change}
    with pytest.raises(InvalidRequest) as caught:
        responses_to_chat_request(body)
    assert caught.value.param == param


COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Here.",
                "reasoning_content": "think",
                "thinking_blocks": [
                    {"type": "thinking", "thinking": "think", "signature": "s1"},
                    {"type": "redacted_thinking", "data": "r1"},
                ],
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"a": 1}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
        "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 30},
        "completion_tokens_details": {"reasoning_tokens": 5},
    },
}


def test_completion_survives_the_messages_reply_round_trip() -> None:
    message = chat_to_anthropic_message(COMPLETION)
    assert message["usage"] == {
        "input_tokens": 10,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 60,
        "output_tokens": 20,
        "output_tokens_details": {"thinking_tokens": 5},
    }
    back = anthropic_to_chat_completion(message)
    want = copy.deepcopy(COMPLETION["choices"][0]["message"])
    want["tool_calls"][0]["function"]["arguments"] = '{"a":1}'  # Anthropic carries an object
    assert back["choices"][0]["message"] == want
    assert back["usage"] == COMPLETION["usage"]


def test_completion_survives_the_responses_round_trip() -> None:
    response = completion_to_response(COMPLETION, {"model": "m"})
    assert [item["type"] for item in response["output"]] == [
        "reasoning",
        "reasoning",
        "message",
        "function_call",
    ]
    assert response["usage"]["input_tokens_details"] == {
        "cached_tokens": 60,
        "cache_write_tokens": 30,
    }
    back = response_to_chat_completion(response)
    assert back["choices"][0]["message"] == COMPLETION["choices"][0]["message"]
    assert back["choices"][0]["finish_reason"] == "tool_calls"
    assert back["usage"] == COMPLETION["usage"]


def test_stop_sequence_survives_the_messages_reply_round_trip() -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "c",
        "content": [{"type": "text", "text": "42"}],
        "stop_reason": "stop_sequence",
        "stop_sequence": "###",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    again = chat_to_anthropic_message(anthropic_to_chat_completion(message))
    assert (again["stop_reason"], again["stop_sequence"]) == ("stop_sequence", "###")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (429, "rate_limit_error"),
        (503, "overloaded_error"),
        (502, "api_error"),
        (504, "timeout_error"),
    ],
)
def test_errors_take_the_messages_api_shape(status: int, kind: str) -> None:
    assert error_body(status, "why") == {"type": "error", "error": {"type": kind, "message": "why"}}
