"""The one redaction function: every kind of credential, in the forms it turns up in."""

from __future__ import annotations

import logging
import sys

import pytest

from flightdeck.core.redact import RedactingFilter, redact, summarize

SECRETS = [
    # (text, the secret that must go, what must stay)
    ("cannot reach http://alice:hunter2@10.0.0.1/v1: refused", "hunter2", "10.0.0.1/v1"),
    ("https://svc-user:p%40ss@api.example.com:8443/openai", "p%40ss", "api.example.com:8443"),
    ("GET https://tok3nonly@example.com/x", "tok3nonly", "example.com/x"),
    ("POST /v1/chat?api_key=abc123secret&x=1", "abc123secret", "x=1"),
    ("url /v1/models?foo=1&key=AIzaNotAGoogleKeyButSecret", "NotAGoogleKey", "foo=1"),
    ("GET /p?token=t0k3nvalue HTTP/1.1", "t0k3nvalue", "HTTP/1.1"),
    ("/cb?access_token=ya29.a0AfH6SMB&state=s", "ya29.a0AfH6SMB", "state=s"),
    ("blob?sv=2022&SIG=Zm9vYmFyc2lnbmF0dXJl%3D", "Zm9vYmFyc2lnbmF0dXJl", "sv=2022"),
    ("?Api-Key=UPPERCASEsecret", "UPPERCASEsecret", "?Api-Key="),
    ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop", "Authorization"),
    ("{'authorization': 'Bearer s3cr3t-value-123'}", "s3cr3t-value-123", "authorization"),
    ('{"x-api-key": "anthropic-secret-value"}', "anthropic-secret-value", "x-api-key"),
    ("api-key=azurekey0123456789", "azurekey0123456789", "api-key"),
    ("x-goog-api-key: goog-secret-12345", "goog-secret-12345", "x-goog-api-key"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA", "Basic"),
    ("sent token bearer ABCDEFGH12345678 to upstream", "ABCDEFGH12345678", "to upstream"),
    ("invalid key sk-proj-AbCdEf0123456789xyz", "AbCdEf0123456789xyz", "invalid key"),
    ("key sk-ant-api03-AAAAAAAAAAAAAAAAAAAA-bbbb rejected", "AAAAAAAAAAAAAAAAAAAA", "rejected"),
    ("flightdeck key fd-Zr8vQ0-abcdefghijKLMNOP leaked", "Zr8vQ0-abcdefghijKLMNOP", "leaked"),
    ("aws AKIAIOSFODNN7EXAMPLE in log", "AKIAIOSFODNN7EXAMPLE", "in log"),
    (
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3jVmNHl0w5N",
        "jwt",
    ),
    ("google AIzaSyA1234567890abcdefghijklmnopqrstu ok", "SyA1234567890abcdef", "ok"),
]


@pytest.mark.parametrize(("text", "secret", "kept"), SECRETS)
def test_redact_removes_the_secret_and_keeps_the_rest(text: str, secret: str, kept: str) -> None:
    out = redact(text)
    assert secret not in out
    assert kept in out
    assert "***" in out
    assert redact(out) == out  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "The model `gpt-4o` does not exist",
        "upstream error 500: fake upstream failure 500",
        "'messages' must be a non-empty array",
        "http://127.0.0.1:9/v1",
        "a task-oriented skeleton",  # sk- inside a word is not a key
        # hints that show a header's form hold no secret: the scheme word is never masked
        "Missing API key: send it as 'Authorization: Bearer <key>'",
        "use 'Proxy-Authorization: Basic <credentials>'",
        '"x-api-key": "<your key>"',
    ],
)
def test_redact_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text


def test_summary_is_short_redacted_and_flat() -> None:
    body = ("<html>\n  <p>Authorization: Bearer sekret-token-123456</p>" + "x" * 2000).encode()
    out = summarize(body)
    assert len(out) <= 300
    assert "sekret-token-123456" not in out
    assert "\n" not in out
    assert out.endswith("...")


def test_filter_redacts_message_args_and_traceback() -> None:
    try:
        raise ValueError("boom with http://u:topsecret@h/x")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/v1/models?api_key=leaky123", "1.1", 200),
        exc_info,
    )
    RedactingFilter().filter(record)
    assert record.args is not None
    line = record.getMessage()
    assert "leaky123" not in line and "/v1/models?api_key=***" in line
    assert record.args[4] == 200  # numbers stay numbers: formatters rely on them
    assert record.exc_text is not None and "topsecret" not in record.exc_text
