"""Issue #11 finding 5: no credential leaves through an error body or a log line.

Three ways in, each with siblings: a ``base_url`` with userinfo, an upstream whose error body
echoes the gateway's credential header (OpenAI, Anthropic and Gemini wire formats), and a
credential in the query string of a request to the gateway (uvicorn's access log of a real
``flightdeck serve`` process).
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import openai
import pytest

from flightdeck.core.settings import load_settings
from flightdeck.testing import FakeUpstream
from flightdeck.testing.fake_anthropic import FakeAnthropic
from flightdeck.testing.fake_gemini import FakeGemini
from flightdeck.testing.fake_server import FakeServer
from flightdeck.testing.server import create_key, free_port
from tests.conftest import MakeSettings, http

UPSTREAM_KEY = "sk-proj-UpstreamSecret0123456789"


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record as a handler would write it: message and traceback."""
    return "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://admin:hunter2pw@127.0.0.1:9/v1",
        "http://only-a-token-hunter2pw@127.0.0.1:9/v1",
        "http://admin:hunter2pw@127.0.0.1:9/v1?api_key=hunter2pw",
    ],
)
def test_userinfo_in_base_url_is_not_in_the_503_or_the_log(
    base_url: str, make_settings: MakeSettings, serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = serve(make_settings([{"name": "dead", "base_url": base_url}]))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="dead", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 503
    body = info.value.response.text
    assert "cannot reach http://***@127.0.0.1:9/v1" in body
    assert "hunter2pw" not in body
    assert "hunter2pw" not in logged(caplog)
    assert caplog.records  # the 5xx was logged (redacted), not silently dropped


def fake_of(kind: str) -> FakeServer:
    return {"openai": FakeUpstream, "anthropic": FakeAnthropic, "gemini": FakeGemini}[kind]()


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("status", [500, 401, 400, 429])
def test_upstream_echoing_the_credential_header_is_not_relayed(
    kind: str,
    status: int,
    make_settings: MakeSettings,
    serve,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with fake_of(kind) as fake:
        fake.behaviour.failure_rate = 1.0
        fake.behaviour.fail_status = status
        fake.behaviour.echo_credentials = True
        settings = make_settings(
            [{"name": "m", "provider": kind, "base_url": fake.base_url, "api_key": UPSTREAM_KEY}],
            router={"max_retries": 0},
        )
        server = serve(settings)
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        # the fake really echoed it: the gateway had something to hide
        seen = {k.lower(): v for k, v in fake.record.last_headers.items()}
        assert UPSTREAM_KEY in " ".join(seen.values())
    body = info.value.response.text
    assert "fake upstream failure" in body  # the reason is kept
    assert "UpstreamSecret0123456789" not in body
    assert "UpstreamSecret0123456789" not in logged(caplog)
    message = info.value.response.json()["error"]["message"]
    assert len(message) < 400  # a summary, never the raw body


def test_credential_in_the_query_string_is_not_in_the_access_log(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = tmp_path / "flightdeck.toml"
    config.write_text(
        f"""
home = "{tmp_path / "home"}"
[server]
access_log = true
[[models]]
name = "m"
base_url = "{upstream.base_url}"
"""
    )
    key = asyncio.run(create_key(load_settings(config, {})))
    port = free_port()
    log = tmp_path / "serve.log"
    argv = [sys.executable, "-m", "flightdeck", "serve", "--config", str(config)]
    with log.open("wb") as out:
        proc = subprocess.Popen([*argv, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        leaks = {
            "api_key": "leakyQueryKey123",
            "key": key,  # the caller's own Flightdeck key, sent the wrong way
            "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl",
        }
        for name, value in leaks.items():
            status, _, _ = http(
                "GET",
                f"{url}/v1/models?{name}={value}",
                headers={"Authorization": f"Bearer {key}"},
            )
            assert status == 401  # credentials in a query string are refused (RFC 6750)
        status, _, _ = http(
            "GET", f"{url}/v1/models?x=1", headers={"Authorization": f"Bearer {key}"}
        )
        assert status == 200
    finally:
        proc.terminate()
        proc.wait(30)
    text = log.read_text()
    assert "/v1/models?api_key=***" in text  # the access log has the line, redacted
    assert "leakyQueryKey123" not in text
    assert key.removeprefix("fd-") not in text
    assert "c2lnbmF0dXJlLXZhbHVl" not in text
