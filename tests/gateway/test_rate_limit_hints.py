"""Issue #12.2 end to end: every form of rate-limit hint is honoured by the router (no request
inside the window; fail over or give up) and passed on to the client as ``Retry-After``."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import formatdate

import openai
import pytest

from flightdeck.testing import FakeUpstream
from tests.conftest import MakeSettings

MESSAGES = [{"role": "user", "content": "hi"}]


def client_for(server) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)


FORMS = ["seconds", "http-date", "retry-after-ms", "openai reset", "anthropic reset"]


def hint(form: str, seconds: float) -> dict[str, str]:
    """Headers of a 429 asking for ``seconds`` in ``form``, made when the test runs (dates go
    stale between collection and run)."""
    later = datetime.now(UTC) + timedelta(seconds=seconds)
    return {
        "seconds": {"Retry-After": f"{seconds:g}"},
        "http-date": {"Retry-After": formatdate(later.timestamp(), usegmt=True)},
        "retry-after-ms": {"retry-after-ms": f"{seconds * 1000:g}"},
        "openai reset": {
            "x-ratelimit-reset-tokens": f"{seconds * 1000:g}ms",
            "x-ratelimit-remaining-tokens": "0",
        },
        "anthropic reset": {"anthropic-ratelimit-requests-reset": later.isoformat()},
    }[form]


@pytest.mark.parametrize("form", FORMS)
def test_a_long_window_is_not_retried_and_reaches_the_client(
    form: str,
    upstream: FakeUpstream,
    make_settings: MakeSettings,
    serve,
) -> None:
    upstream.behaviour.failure_rate = 1.0
    upstream.behaviour.fail_status = 429
    settings = make_settings(
        [{"name": "m", "base_url": upstream.base_url}],
        router={"max_retries": 2, "max_retry_after_seconds": 10},
    )
    client = client_for(serve(settings))
    upstream.behaviour.fail_headers = hint(form, 30)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert upstream.record.total == 1, form  # no retry inside the upstream's window
    given = int(info.value.response.headers["retry-after"])
    assert 28 <= given <= 30, form


@pytest.mark.parametrize("form", FORMS)
def test_a_long_window_fails_over_to_the_fallback(
    form: str,
    upstream: FakeUpstream,
    make_settings: MakeSettings,
    serve,
) -> None:
    upstream.behaviour.failure_rate = 1.0
    upstream.behaviour.fail_status = 429
    upstream.behaviour.fail_headers = hint(form, 30)
    with FakeUpstream() as backup:
        settings = make_settings(
            [
                {"name": "primary", "base_url": upstream.base_url, "fallbacks": ["backup"]},
                {"name": "backup", "base_url": backup.base_url},
            ],
            router={"max_retries": 2, "max_retry_after_seconds": 10},
        )
        client = client_for(serve(settings))
        reply = client.chat.completions.create(model="primary", messages=MESSAGES)
        assert reply.choices[0].message.content == "echo: hi"
        assert upstream.record.total == 1 and backup.record.total == 1, form


@pytest.mark.parametrize("form", FORMS)
def test_a_short_window_is_waited_out_before_the_retry(
    form: str,
    upstream: FakeUpstream,
    make_settings: MakeSettings,
    serve,
) -> None:
    settings = make_settings(
        [{"name": "m", "base_url": upstream.base_url}],
        router={"max_retries": 1, "max_retry_after_seconds": 10},
    )
    client = client_for(serve(settings))
    upstream.behaviour.failure_rate = 1.0
    upstream.behaviour.fail_status = 429
    window = 2.0 if form == "http-date" else 0.6
    made = time.monotonic()
    upstream.behaviour.fail_headers = hint(form, window)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    first, second = upstream.record.arrivals
    # the retry came after the window, not inside it
    if form == "http-date":  # a time of day in whole seconds: up to 1 s early
        assert second >= made + window - 1.0
    elif form == "anthropic reset":  # a time of day
        assert second >= made + window - 0.01
    else:  # a wait from the 429
        assert second - first >= window - 0.01, form


def test_another_call_does_not_reach_a_deployment_inside_its_window(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    settings = make_settings(
        [{"name": "m", "base_url": upstream.base_url}],
        router={"max_retries": 0, "max_retry_after_seconds": 10},
    )
    client = client_for(serve(settings))
    upstream.behaviour.failure_rate = 1.0
    upstream.behaviour.fail_status = 429
    upstream.behaviour.fail_headers = {"retry-after-ms": "700"}
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    upstream.behaviour.failure_rate = 0.0
    reply = client.chat.completions.create(model="m", messages=MESSAGES)
    assert reply.choices[0].message.content == "echo: hi"
    first, second = upstream.record.arrivals
    assert second - first >= 0.7


def test_a_window_past_the_deadline_gives_up_with_retry_after(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    settings = make_settings(
        [{"name": "m", "base_url": upstream.base_url}],
        router={
            "max_retries": 0,
            "max_retry_after_seconds": 10,
            "attempt_timeout_seconds": 2,
            "total_timeout_seconds": 2,
        },
    )
    client = client_for(serve(settings))
    upstream.behaviour.failure_rate = 1.0
    upstream.behaviour.fail_status = 429
    upstream.behaviour.fail_headers = {"Retry-After": "8"}
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    upstream.behaviour.failure_rate = 0.0
    with pytest.raises(openai.RateLimitError) as info:  # the window (8 s) outlasts the deadline
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert upstream.record.total == 1
    assert 6 <= int(info.value.response.headers["retry-after"]) <= 8
