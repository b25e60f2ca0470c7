"""The shape checks behind ``InvalidUpstreamReply`` (issue #12.1), document by document."""

from __future__ import annotations

import pytest

from flightdeck.core.errors import InvalidUpstreamReply, UpstreamError
from flightdeck.providers import replies


@pytest.mark.parametrize(
    ("check", "document", "valid"),
    [
        (replies.chat_completion, {"choices": [{"message": {"content": "hi"}}]}, True),
        (replies.chat_completion, {"choices": []}, True),  # n=0 or a filtered prompt
        (replies.chat_completion, {"choices": [{"text": "hi"}]}, False),  # legacy completion
        (replies.chat_completion, {"choices": "hi"}, False),
        (replies.chat_completion, {"choices": [], "usage": 3}, False),
        (replies.chat_chunk, {"choices": [{"delta": {"content": "h"}}]}, True),
        (replies.chat_chunk, {"choices": [], "usage": {"total_tokens": 3}}, True),
        (replies.chat_chunk, {"usage": {"total_tokens": 3}}, True),  # choices left out
        (replies.chat_chunk, {"foo": 1}, False),
        (replies.embeddings, {"data": [{"embedding": [0.1, 2]}]}, True),
        (replies.embeddings, {"data": [{"embedding": "AAAAAA=="}]}, True),
        (replies.embeddings, {"data": []}, False),
        (replies.embeddings, {"data": [{"embedding": [True]}]}, False),
        (replies.embeddings, {"data": [{"embedding": ["0.1"]}]}, False),
        (replies.anthropic_message, {"type": "message", "content": [{"type": "text"}]}, True),
        (replies.anthropic_message, {"type": "error", "content": []}, False),
        (replies.anthropic_message, {"content": [{"text": "no type"}]}, False),
        (replies.gemini_response, {"candidates": [{"content": {"parts": []}}]}, True),
        (replies.gemini_response, {"promptFeedback": {"blockReason": "SAFETY"}}, True),
        (replies.gemini_response, {"candidates": [{"content": "x"}]}, False),
        (replies.gemini_response, {}, False),
        (replies.gemini_event, {"usageMetadata": {"totalTokenCount": 3}}, True),
    ],
)
def test_shapes(check: replies.ShapeCheck, document: dict[str, object], valid: bool) -> None:
    assert (check(document) is None) is valid  # type: ignore[arg-type]


def test_error_event_mid_stream_is_an_upstream_failure_with_its_reason() -> None:
    data = b'{"error": {"message": "overloaded; key sk-proj-abcdefghijklmnop", "type": "x"}}'
    with pytest.raises(UpstreamError) as info:
        replies.event_data(data, replies.chat_chunk, "a chunk")
    assert not isinstance(info.value, InvalidUpstreamReply)
    assert "overloaded" in info.value.message and "abcdefghijklmnop" not in info.value.message


def test_description_names_status_type_and_a_short_redacted_preview() -> None:
    raw = b"<html>" + b"Authorization: Bearer abcdefghijklmnopqrstuvwxyz " * 50 + b"</html>"
    text = replies.describe(200, "text/html; charset=utf-8", raw, "JSON")
    assert text.startswith("upstream answered 200 text/html: '<html>")
    assert text.endswith("(expected JSON)")
    assert "abcdefghijklmnop" not in text and len(text) < 200
