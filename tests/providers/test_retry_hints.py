"""Issue #12.2: rate-limit hints in every legal form (and the vendors' own)."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from flightdeck.providers.retry_hints import (
    CEILING_SECONDS,
    parse_go_duration,
    parse_retry_after,
    retry_after_seconds,
)

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def http_date(offset: float) -> str:
    return formatdate(NOW + offset, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": " 2.5 "}, 2.5),
        ({"retry-after": http_date(30)}, 30.0),  # IMF-fixdate
        ({"retry-after": "Fri, 15 Jan 2027 08:00:45 GMT"}, 45.0),
        ({"retry-after": "Friday, 15-Jan-27 08:00:45 GMT"}, 45.0),  # obsolete RFC 850 form
        ({"retry-after": "Fri Jan 15 08:00:45 2027"}, None),  # asctime has no zone: refused
        ({"retry-after": http_date(-60)}, 0.0),  # a date in the past: no wait
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the precise one wins
        ({"x-ratelimit-reset-requests": "1s", "x-ratelimit-remaining-requests": "0"}, 1.0),
        ({"x-ratelimit-reset-tokens": "6m0s", "x-ratelimit-remaining-tokens": "0"}, 360.0),
        ({"x-ratelimit-reset-requests": "20ms", "x-ratelimit-remaining-requests": "0"}, 0.02),
        ({"x-ratelimit-reset-tokens": "2m3.5s"}, 123.5),
        (
            {
                "x-ratelimit-reset-requests": "2s",
                "x-ratelimit-remaining-requests": "12",
                "x-ratelimit-reset-tokens": "150ms",
                "x-ratelimit-remaining-tokens": "0",
            },
            0.15,  # the exhausted limit is the one to wait for
        ),
        ({"anthropic-ratelimit-requests-reset": "2027-01-15T08:00:12Z"}, 12.0),
        (
            {
                "anthropic-ratelimit-tokens-reset": "2027-01-15T08:00:03.5+00:00",
                "anthropic-ratelimit-tokens-remaining": "0",
                "anthropic-ratelimit-requests-reset": "2027-01-15T08:00:40Z",
                "anthropic-ratelimit-requests-remaining": "10",
            },
            3.5,
        ),
        ({"anthropic-ratelimit-input-tokens-reset": "2027-01-15T09:00:00+01:00"}, 0.0),
        ({"retry-after": http_date(10 * 86400)}, CEILING_SECONDS),  # clamped
        ({}, None),
    ],
)
def test_every_form_of_hint_is_read(headers: dict[str, str], expected: float | None) -> None:
    got = retry_after_seconds(headers, rate_limited=True, now=NOW)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-6)


def test_reset_headers_count_only_on_a_429() -> None:
    headers = {"x-ratelimit-reset-requests": "1s", "x-ratelimit-remaining-requests": "0"}
    assert retry_after_seconds(headers, rate_limited=False, now=NOW) is None
    assert retry_after_seconds({"retry-after": "3"}, rate_limited=False, now=NOW) == 3.0


def test_google_retry_info_in_the_error_body() -> None:
    body = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"},
            ],
        }
    }
    assert retry_after_seconds({}, rate_limited=True, body=body, now=NOW) == 17.0
    assert retry_after_seconds({}, rate_limited=True, body=[body], now=NOW) == 17.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1.5s", 1.5), ("2h", 7200.0), ("3", 3.0)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "1x", "abc", "1s garbage"])
def test_bad_go_durations(text: str) -> None:
    assert parse_go_duration(text) is None


def test_retry_after_date_is_relative_to_now() -> None:
    assert parse_retry_after(http_date(5), now=NOW) == pytest.approx(5.0)
