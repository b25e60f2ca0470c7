"""One redaction function for every error sent to a client and every log line.

``redact(text)`` replaces secrets with ``***`` wherever they appear in free text:

- userinfo in URLs: ``https://user:pass@host/v1`` -> ``https://***@host/v1``
- credential query parameters: ``?api_key=``, ``key``, ``token``, ``access_token``, ``sig``,
  ``signature``, ``password``, ``secret``, ``client_secret``, ``refresh_token``, ``id_token``,
  ``code`` (any case, ``-`` or ``_``)
- credential headers written out (``Authorization: Bearer ...``, ``"x-api-key": "..."``,
  ``api-key=...``, ``x-goog-api-key``, ``proxy-authorization``, ``cookie``) and bearer/basic
  tokens anywhere
- known key shapes: OpenAI/Anthropic ``sk-...``, Flightdeck ``fd-...``, AWS ``AKIA...``,
  Google ``AIza...``, GitHub ``ghp_...``, Slack ``xox?-...``, and JSON Web Tokens

``summarize(raw)`` turns an upstream body into at most ``SUMMARY_CHARS`` characters of redacted
text: an upstream's raw body is never relayed. ``RedactingFilter`` applies ``redact`` to log
records (message, arguments, exception text); ``install_log_redaction`` puts it on every record
the process creates (``logging.setLogRecordFactory``), which covers uvicorn's access log too.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any

MASK = "***"
SUMMARY_CHARS = 300

_PARAMS = (
    r"api[_-]?key|key|token|access[_-]?token|refresh[_-]?token|id[_-]?token|sig|signature"
    r"|password|passwd|secret|client[_-]?secret|code|x-amz-signature|x-amz-credential"
    r"|x-amz-security-token"
)
_HEADERS = r"authorization|proxy-authorization|x-api-key|api-key|x-goog-api-key|cookie|set-cookie"
Replacement = str | Callable[[re.Match[str]], str]
# (substrings of the lower-cased text, one of which must be present for the rule to apply:
# a cheap test that keeps ordinary log lines fast, the pattern, its replacement)
_RULES: list[tuple[tuple[str, ...], re.Pattern[str], Replacement]] = [
    # scheme://user:pass@host -> scheme://***@host (userinfo ends at the last @ before the path)
    (("://",), re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#\"'<>]+@"), rf"\1{MASK}@"),
    # ?api_key=... &token=...
    (("=",), re.compile(rf"(?i)([?&;](?:{_PARAMS})=)[^&;#\s\"'<>]+"), rf"\1{MASK}"),
    # Authorization: Bearer x / "x-api-key": "y" / api-key=z
    (
        ("authoriz", "api-key", "cookie"),
        re.compile(
            rf"(?i)\b({_HEADERS})([\"']?\s*[:=]\s*[\"']?)"
            # the scheme word is never the secret: "Authorization: Bearer <key>" (a hint
            # that shows the form, with no key in it) stays as it is
            r"(?:(bearer|basic|token|digest)\s+)?(?!(?:bearer|basic|token|digest)\b)"
            r"[^\s\"',;<>}}\]]+"
        ),
        lambda m: f"{m[1]}{m[2]}{m[3] + ' ' if m[3] else ''}{MASK}",
    ),
    (
        ("bearer", "basic"),
        re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
        rf"\1 {MASK}",
    ),
    # JSON Web Tokens: header.payload.signature, each base64url, header starting {"
    (("eyj",), re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    (("sk-", "fd-", "rk-", "pk-"), re.compile(r"\b(sk|fd|rk|pk)-[A-Za-z0-9_-]{8,}"), rf"\1-{MASK}"),
    (("akia", "asia"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    (("aiza",), re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), MASK),
    (("gh", "github_pat"), re.compile(r"\b(?:ghp|gho|ghs|ghu|github_pat)_[A-Za-z0-9_]{20,}"), MASK),
    (("xox",), re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), MASK),
]


def redact(text: str) -> str:
    """``text`` with every credential it contains replaced by ``***`` (see the module doc)."""
    lower = text.lower()
    # Substring tests first (memchr fast; one regex alternation of all triggers was 3x slower
    # on a request log line): most lines hold nothing that could be a secret.
    for triggers, pattern, replacement in _RULES:
        for trigger in triggers:
            if trigger in lower:
                text = pattern.sub(replacement, text)
                lower = text.lower()
                break
    return text


def redact_url(url: str) -> str:
    """A URL safe to show: userinfo and credential query parameters masked."""
    return redact(url)


def summarize(raw: bytes | str, limit: int = SUMMARY_CHARS) -> str:
    """At most ``limit`` characters of ``raw`` (an upstream body), whitespace collapsed, redacted.

    Redaction runs on the whole text first, so a secret cut by the limit is never half-shown.
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = redact(" ".join(text[: limit * 20].split()))
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return text


class RedactingFilter(logging.Filter):
    """Redacts a record's message, its string arguments and its exception text in place.

    Arguments are redacted one by one (not merged into the message), so formatters that read
    ``record.args`` (uvicorn's access log) keep working.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact ``record`` in place (idempotent) and return it."""
    if getattr(record, "_flightdeck_redacted", False):
        return record
    record._flightdeck_redacted = True
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    elif record.msg is not None and not isinstance(record.msg, int | float):
        record.msg = redact(str(record.msg))
    args = record.args
    if isinstance(args, tuple):
        record.args = tuple(_redact_arg(a) for a in args)
    elif isinstance(args, dict):
        record.args = {k: _redact_arg(v) for k, v in args.items()}
    if record.exc_info and record.exc_info[0] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text = redact(text)
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    return record


def _redact_arg(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


_installed = False


def install_log_redaction() -> None:
    """Redact every log record this process creates, whatever logger or handler it goes to
    (called once at start-up by ``create_app``; later calls do nothing)."""
    global _installed
    if _installed:
        return
    _installed = True
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(make(*args, **kwargs))

    logging.setLogRecordFactory(factory)
