"""How long an upstream asked us to wait, read from every form the vendors use.

- ``retry-after-ms``: milliseconds (OpenAI, Azure OpenAI)
- ``Retry-After``: delay-seconds or an HTTP-date (RFC 9110, section 10.2.3)
- ``x-ratelimit-reset-requests`` / ``-tokens``: a Go duration (``"1s"``, ``"6m0s"``, ``"20ms"``,
  ``"1h2m3.5s"``) until that limit resets (OpenAI); the exhausted one (``x-ratelimit-remaining-*``
  of 0) counts when the reply says which
- ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset``: an RFC 3339 time
- ``google.rpc.RetryInfo.retryDelay`` in a Google error body (``"30s"``)

The answer is seconds from now, never negative, at most ``CEILING_SECONDS``; the router clamps it
further to ``router.max_retry_after_seconds``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

CEILING_SECONDS = 3600.0  # a longer hint (a far date, a broken header) is cut to an hour

_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_RESETS = {
    "x-ratelimit-reset-requests": "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-tokens": "x-ratelimit-remaining-tokens",
}
_ANTHROPIC = ("requests", "tokens", "input-tokens", "output-tokens")


def retry_after_seconds(
    headers: Mapping[str, str],
    *,
    rate_limited: bool = False,
    body: Any = None,
    now: float | None = None,
) -> float | None:
    """Seconds to wait before sending again, from ``headers`` (lower-case names); None when the
    upstream gave no usable hint. Limit-reset headers (sent on every reply) count only when
    ``rate_limited`` (a 429); ``body`` is the parsed error body, for Google's ``RetryInfo``."""
    clock = time.time() if now is None else now
    wait = _milliseconds(headers.get("retry-after-ms"))
    if wait is None:
        wait = parse_retry_after(headers.get("retry-after"), now=clock)
    if wait is None and rate_limited:
        wait = _reset_wait(headers, clock)
    if wait is None and rate_limited and body is not None:
        wait = _google_retry_delay(body)
    if wait is None:
        return None
    return min(max(0.0, wait), CEILING_SECONDS)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from ``now``: delay-seconds or an HTTP-date; None if invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means it said so
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_go_duration(value: str) -> float | None:
    """A Go ``time.Duration`` string (``"6m0s"``, ``"20ms"``, ``"1.5s"``) in seconds."""
    text = value.strip()
    if not text:
        return None
    pos, total = 0, 0.0
    for match in _GO_DURATION.finditer(text):
        if match.start() != pos:
            return None
        total += float(match[1]) * _GO_UNITS[match[2]]
        pos = match.end()
    if pos != len(text):
        try:  # some servers send bare seconds
            return max(0.0, float(text))
        except ValueError:
            return None
    return total


def _milliseconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        ms = float(value)
    except ValueError:
        return None
    return ms / 1000 if math.isfinite(ms) else None


def _reset_wait(headers: Mapping[str, str], now: float) -> float | None:
    exhausted: list[float] = []
    others: list[float] = []
    for reset, remaining in _RESETS.items():
        raw = headers.get(reset)
        wait = parse_go_duration(raw) if raw else None
        if wait is not None:
            (exhausted if headers.get(remaining, "").strip() == "0" else others).append(wait)
    for limit in _ANTHROPIC:
        raw = headers.get(f"anthropic-ratelimit-{limit}-reset")
        wait = _rfc3339_wait(raw, now) if raw else None
        if wait is not None:
            remaining = headers.get(f"anthropic-ratelimit-{limit}-remaining", "").strip()
            (exhausted if remaining == "0" else others).append(wait)
    chosen = exhausted or others
    return max(chosen) if chosen else None


def _rfc3339_wait(value: str, now: float) -> float | None:
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return when.timestamp() - now


def _google_retry_delay(body: Any) -> float | None:
    if isinstance(body, list) and body:
        body = body[0]
    err = body.get("error") if isinstance(body, dict) else None
    details = err.get("details") if isinstance(err, dict) else None
    if not isinstance(details, list):
        return None
    for detail in details:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            delay = detail.get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    return float(delay[:-1])
                except ValueError:
                    return None
    return None
