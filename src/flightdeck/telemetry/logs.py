"""Structured request logs: one JSON object per line on the ``flightdeck.requests`` logger.

Keys (all of them, every line): ``time`` (RFC 3339, UTC), ``trace_id`` (32 hex digits, null
without tracing), ``tenant``, ``method``, ``route`` (the route template, never the raw path),
``model``, ``status``, ``duration_ms``, ``input_tokens``, ``output_tokens``, ``cache``. Nothing
else reaches the line: no headers, no query strings, no bodies, so no keys and no prompts (and
the two names that come from configuration, tenant and model, still go through
``core.redact``).

Two paths, the same lines:

- ``flightdeck serve`` gives the logger only Flightdeck's own stderr handler (no propagation:
  a line is written once). Lines are then buffered and written together by ``flush``, which
  the telemetry's ``Batch`` calls after each run (the middleware's queued request ends make
  the lines: ``telemetry/batch.py``, every 0.25 s, or at once outside an event loop), when
  ``FLUSH_BYTES`` wait, and at shutdown and exit: one ``write`` for many requests instead of a
  ``LogRecord`` and a ``write`` each (measured in ``docs/benchmarks.md``, telemetry cost). A
  process killed with SIGKILL loses at most the last 0.25 s of lines.
- Anywhere else (handlers or filters added by an embedder, propagation to the root logger, as
  in tests with ``caplog``), each line is an ordinary ``LogRecord`` through ``logging``.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import sys
import time
from typing import Any

import orjson

from flightdeck.core.redact import redact

LOGGER = "flightdeck.requests"
FLUSH_BYTES = 64 * 1024
log = logging.getLogger(LOGGER)


class _Stamp:
    """RFC 3339 UTC timestamps with milliseconds: the part up to the seconds is formatted once
    per second, the whole stamp once per millisecond (requests finish several per ms). Each
    cache is one (key, text) tuple, replaced whole, so a thread never pairs one second's text
    with another's key."""

    second: tuple[int, str] = (-1, "")
    millisecond: tuple[int, str] = (-1, "")


def now(ms: int | None = None) -> str:
    """A request line's ``time`` (``2026-11-29T21:33:08.123Z``): of ``ms`` (milliseconds since
    the epoch), or the current time."""
    if ms is None:
        ms = int(time.time() * 1000)
    cached_ms, stamp = _Stamp.millisecond
    if ms != cached_ms:
        second, milli = divmod(ms, 1000)
        cached_second, prefix = _Stamp.second
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            _Stamp.second = (second, prefix)
        stamp = f"{prefix}.{milli:03d}Z"
        _Stamp.millisecond = (ms, stamp)
    return stamp


def request_line(fields: dict[str, Any]) -> str:
    """One log line (JSON, no newline) for a finished request: ``fields`` with ``time`` first.
    A ``fields`` that already starts with a ``time`` key (the middleware's: when the request
    ended, in ms since the epoch, or None for now) is completed in place rather than copied;
    without one the line gets the current time."""
    if "time" in fields:
        fields["time"] = now(fields["time"])
    else:
        fields = {"time": now(), **fields}
    return orjson.dumps(fields).decode()


class _Lines:
    """Request lines waiting for one ``write`` to Flightdeck's own handler's stream (written
    by ``flush``: see the module docstring)."""

    def __init__(self) -> None:
        self.handler: logging.StreamHandler[Any] | None = None
        self.waiting: list[str] = []
        self.size = 0

    def direct(self) -> bool:
        """True when the logger's only way out is our own handler (``flightdeck serve``)."""
        handlers = log.handlers
        return (
            not log.propagate
            and len(handlers) == 1
            and handlers[0] is self.handler
            and not log.filters
        )

    def add(self, line: str) -> None:
        self.waiting.append(line)
        self.size += len(line) + 1
        if self.size >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write every waiting line (at shutdown too; a no-op when none wait)."""
        if not self.waiting or self.handler is None:
            return
        text = "\n".join(self.waiting) + "\n"
        self.waiting.clear()
        self.size = 0
        handler = self.handler
        handler.acquire()
        try:
            with contextlib.suppress(OSError, ValueError):  # a closed stderr fails no request
                handler.stream.write(text)
                handler.flush()
        finally:
            handler.release()


_LINES = _Lines()
atexit.register(_LINES.flush)


_NAMES: dict[str, str] = {}  # tenant and model group names, redacted once


def _redacted_name(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    done = _NAMES.get(value)
    if done is None:
        if len(_NAMES) >= 4096:  # names are bounded; this only stops a runaway
            _NAMES.clear()
        done = _NAMES[value] = redact(value)
    return done


def emit(fields: dict[str, Any]) -> None:
    """Log one request's line (``fields``, with ``time`` formatted here: see
    ``request_line``), if the logger is on (a cheap check when it is not)."""
    if not log.isEnabledFor(logging.INFO):
        return
    # Of the fields only these two are names that come from outside the code (configuration,
    # the key store); redacting them is as safe as redacting the line, and cheaper.
    fields["tenant"] = _redacted_name(fields.get("tenant"))
    fields["model"] = _redacted_name(fields.get("model"))
    line = request_line(fields)
    if _LINES.direct():
        _LINES.add(line)
        return
    # Made directly: ``log.info`` would walk the stack for a file and line no line shows.
    log.handle(log.makeRecord(LOGGER, logging.INFO, "", 0, line, (), None))


def flush() -> None:
    """Write the request lines still waiting (the app's shutdown calls this)."""
    _LINES.flush()


def configure_request_logs() -> None:
    """Send request lines to stderr as they are (the message is the JSON object), once."""
    if _LINES.handler is not None and _LINES.handler in log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    _LINES.flush()
    _LINES.handler = handler
