"""The cache steps of the model-call path: a failing cache is a miss and logs no prompt; the
usage a client did not ask for is taken out of a recorded stream."""

from __future__ import annotations

import logging

import orjson
import pytest

from flightdeck.cache import CacheUnavailable
from flightdeck.calls.cached import asking_for_usage, quietly, without_usage
from flightdeck.core.errors import InvalidRequest

PROMPT = "my secret medical question"


async def failing(exc: Exception) -> str:
    raise exc


@pytest.mark.parametrize("exc", [RuntimeError(PROMPT), CacheUnavailable(PROMPT), OSError(PROMPT)])
async def test_a_failing_cache_step_is_a_miss_and_logs_no_prompt(
    exc: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="flightdeck.calls.cached"):
        assert await quietly(failing(exc), "default", "lookup") == "default"
    assert caplog.records, "the failure is logged"
    assert all(PROMPT not in record.getMessage() for record in caplog.records)
    assert type(exc).__name__ in caplog.text


async def test_a_client_error_is_not_swallowed() -> None:
    with pytest.raises(InvalidRequest):
        await quietly(failing(InvalidRequest("bad header")), None, "lookup")


def event(data: dict[str, object]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


def test_the_usage_the_client_did_not_ask_for_is_taken_out() -> None:
    chunk = {"id": "c", "choices": [{"index": 0, "delta": {"content": "hi"}}], "usage": None}
    usage_only = {"id": "c", "choices": [], "usage": {"prompt_tokens": 3}}
    plain = event({"id": "c", "choices": [{"index": 0, "delta": {"content": "usage"}}]})

    assert without_usage(event(chunk)) == event({k: v for k, v in chunk.items() if k != "usage"})
    assert without_usage(event(usage_only)) is None
    assert without_usage(plain) == plain
    assert without_usage(b"data: [DONE]\n\n") == b"data: [DONE]\n\n"


def test_asking_for_usage_keeps_the_other_stream_options() -> None:
    body = {"model": "m", "stream_options": {"include_obfuscation": False}}
    asked = asking_for_usage(body)
    assert asked["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert body["stream_options"] == {"include_obfuscation": False}  # the caller's is untouched
