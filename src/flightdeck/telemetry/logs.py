"""Structured request logs: one JSON object per line on the ``flightdeck.requests`` logger.

Keys (all of them, every line): ``time`` (RFC 3339, UTC), ``trace_id`` (32 hex digits, null
without tracing), ``tenant``, ``method``, ``route`` (the route template, never the raw path),
``model``, ``status``, ``duration_ms``, ``input_tokens``, ``output_tokens``, ``cache``. Nothing
else reaches the line: no headers, no query strings, no bodies, so no keys and no prompts.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

LOGGER = "flightdeck.requests"
log = logging.getLogger(LOGGER)


def request_line(fields: dict[str, Any]) -> str:
    """One log line (JSON, no newline) for a finished request."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    return orjson.dumps({"time": stamp, **fields}).decode()


def emit(fields: dict[str, Any]) -> None:
    """Write one request's line, if the logger is on (a cheap check when it is not).

    The record is made directly: ``log.info`` would walk the stack for the caller's file and
    line on every request (the costliest step of a log call, measured), which no line shows.
    """
    if log.isEnabledFor(logging.INFO):
        record = log.makeRecord(LOGGER, logging.INFO, "", 0, request_line(fields), (), None)
        log.handle(record)


def configure_request_logs() -> None:
    """Send request lines to stderr as they are (the message is the JSON object), once."""
    if any(getattr(h, "_flightdeck", False) for h in log.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._flightdeck = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = True
