"""The canonical request key: what may and may not change it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from flightdeck.cache import canonical_request, request_hash, semantic_parts

BASE: dict[str, Any] = {
    "model": "gpt",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the capital of France?"},
    ],
    "temperature": 0,
}


def test_key_order_and_json_whitespace_do_not_change_the_hash() -> None:
    shuffled = dict(reversed(list(BASE.items())))
    shuffled["messages"] = [dict(reversed(list(m.items()))) for m in BASE["messages"]]
    pretty = orjson.loads(orjson.dumps(BASE, option=orjson.OPT_INDENT_2))
    assert request_hash(shuffled) == request_hash(BASE) == request_hash(pretty)


@pytest.mark.parametrize(
    "extra",
    [
        {"top_p": 1},
        {"top_p": 1.0},
        {"n": 1},
        {"presence_penalty": 0.0},
        {"frequency_penalty": 0},
        {"logprobs": False},
        {"logit_bias": {}},
        {"stop": None},
        {"stop": []},
        {"seed": None},
        {"response_format": {"type": "text"}},
        {"parallel_tool_calls": True},
        {"tool_choice": "none"},
        {"tools": []},
        {"stream": True},
        {"stream_options": {"include_usage": True}},
        {"user": "u-42"},
        {"metadata": {"page": "home"}},
        {"store": True},
        {"service_tier": "auto"},
        {"prompt_cache_key": "k"},
        {"model": "another-name"},
        {"temperature": 0.0},
    ],
    ids=lambda e: next(iter(e)),
)
def test_defaults_and_fields_that_cannot_change_the_answer_are_ignored(
    extra: dict[str, Any],
) -> None:
    assert request_hash({**BASE, **extra}) == request_hash(BASE)


@pytest.mark.parametrize(
    "extra",
    [
        {"temperature": 0.7},
        {"top_p": 0.5},
        {"seed": 7},
        {"n": 2},
        {"stop": ["\n"]},
        {"logit_bias": {"50256": -100}},
        {"max_tokens": 10},
        {"presence_penalty": 0.5},
        {"frequency_penalty": 0.5},
        {"logprobs": True},
        {"top_logprobs": 2},
        {"response_format": {"type": "json_object"}},
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
        {"tool_choice": "required"},
        {"parallel_tool_calls": False},
        {"reasoning_effort": "high"},
        {"something_new": 1},
    ],
    ids=lambda e: next(iter(e)),
)
def test_every_parameter_that_shapes_the_answer_changes_the_hash(extra: dict[str, Any]) -> None:
    assert request_hash({**BASE, **extra}) != request_hash(BASE)


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "What is the capital of France?"}],
        [{"role": "system", "content": "Be brief!"}, BASE["messages"][1]],
        [BASE["messages"][0], {"role": "user", "content": "What is the capital of Spain?"}],
        [BASE["messages"][0], {"role": "user", "content": "What is the capital of France? "}],
        [*BASE["messages"], {"role": "assistant", "content": "Paris."}],
    ],
)
def test_any_change_to_the_messages_changes_the_hash(messages: list[dict[str, Any]]) -> None:
    assert request_hash({**BASE, "messages": messages}) != request_hash(BASE)


def test_equivalent_spellings_hash_alike() -> None:
    parts = [{"type": "text", "text": "What is the capital of France?"}]
    as_parts = {**BASE, "messages": [BASE["messages"][0], {"role": "user", "content": parts}]}
    assert request_hash(as_parts) == request_hash(BASE)
    assert request_hash({**BASE, "stop": "x"}) == request_hash({**BASE, "stop": ["x"]})
    assert request_hash({**BASE, "max_tokens": 5}) == request_hash(
        {**BASE, "max_completion_tokens": 5}
    )


def test_a_wrongly_typed_default_is_not_taken_for_the_default() -> None:
    assert request_hash({**BASE, "presence_penalty": False}) != request_hash(BASE)


def test_tool_choice_auto_is_the_default_only_when_tools_are_given() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    with_tools = {**BASE, "tools": tools}
    assert request_hash({**with_tools, "tool_choice": "auto"}) == request_hash(with_tools)
    assert request_hash({**BASE, "tool_choice": "auto"}) != request_hash(BASE)


def test_canonical_form_leaves_the_body_untouched() -> None:
    body = {**BASE, "stream": True, "max_tokens": 3}
    before = orjson.dumps(body)
    canonical_request(body)
    assert orjson.dumps(body) == before


def test_semantic_parts_split_the_last_user_text_from_its_context() -> None:
    parts = semantic_parts(BASE)
    assert parts is not None
    assert parts.text == "What is the capital of France?"
    other_question = {**BASE, "messages": [BASE["messages"][0], {"role": "user", "content": "Hi"}]}
    other_system = {**BASE, "messages": [{"role": "system", "content": "x"}, BASE["messages"][1]]}
    assert semantic_parts(other_question).context_hash == parts.context_hash  # type: ignore[union-attr]
    assert semantic_parts(other_system).context_hash != parts.context_hash  # type: ignore[union-attr]
    assert semantic_parts({**BASE, "temperature": 0.5}).context_hash != parts.context_hash  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "last",
    [
        {"role": "assistant", "content": "Paris"},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
        {"role": "user", "content": "   "},
    ],
)
def test_no_semantic_parts_without_a_final_text_user_message(last: dict[str, Any]) -> None:
    assert semantic_parts({**BASE, "messages": [*BASE["messages"], last]}) is None
