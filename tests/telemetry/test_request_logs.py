"""One JSON log line per request, with the same keys every time; keys and prompts used by the
traffic never appear in any log line (in-process through caplog, and on a real server's
stderr)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import openai
import pytest

from flightdeck.core.settings import load_settings
from flightdeck.telemetry.logs import LOGGER
from flightdeck.testing import FakeUpstream
from flightdeck.testing.server import create_key, free_port
from tests.conftest import MakeSettings, http

KEYS = {"time", "trace_id", "tenant", "method", "route", "model", "status", "duration_ms",
        "input_tokens", "output_tokens", "cache"}  # fmt: skip
PROMPT = "zebra-quartz-prompt-marker"
BOGUS_KEY = "fd-bogus-credential-marker-0123456789"


def traffic(url: str, key: str) -> None:
    """Chat, stream, embeddings, a wrong key, an unknown model, a bad body."""
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
    messages = [{"role": "user", "content": f"{PROMPT} please"}]
    client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    for _ in client.chat.completions.create(model="m", messages=messages, stream=True):  # type: ignore[arg-type]
        pass
    client.embeddings.create(model="m", input=PROMPT)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=url + "/v1", api_key=BOGUS_KEY, max_retries=0).models.list()
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=f"{PROMPT}-model", messages=messages)  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {key}"}
    status, _, _ = http("POST", url + "/v1/chat/completions", PROMPT.encode(), headers)
    assert status == 400


def secrets(key: str) -> list[str]:
    return [key, key[3:15], BOGUS_KEY, PROMPT]


def check_lines(lines: list[str], key: str) -> list[dict[str, object]]:
    for line in lines:
        for secret in secrets(key):
            assert secret not in line, f"{secret!r} in log line {line!r}"
    return [json.loads(line) for line in lines if line.startswith('{"time"')]


def test_request_lines_carry_the_fields_and_never_a_key_or_prompt(
    upstream: FakeUpstream, make_settings: MakeSettings, serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = serve(make_settings([{"name": "m", "base_url": upstream.base_url}]))
    traffic(server.url, server.api_key)
    deadline = time.monotonic() + 10
    while len([r for r in caplog.records if r.name == LOGGER]) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    lines = [record.getMessage() for record in caplog.records]
    requests = check_lines(lines, server.api_key)
    assert len(requests) == 6
    assert all(set(line) == KEYS for line in requests)
    chat = requests[0]
    assert (chat["route"], chat["model"], chat["status"], chat["tenant"]) == (
        "/v1/chat/completions",
        "m",
        200,
        "default",
    )
    assert isinstance(chat["input_tokens"], int) and chat["input_tokens"] > 0
    assert [line["status"] for line in requests] == [200, 200, 200, 401, 404, 400]


def test_a_real_server_stderr_never_shows_a_key_or_prompt(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = tmp_path / "flightdeck.toml"
    config.write_text(
        f'home = "{tmp_path / "home"}"\n[[models]]\nname = "m"\nbase_url = "{upstream.base_url}"\n'
    )
    key = asyncio.run(create_key(load_settings(config, {})))
    port = free_port()
    stderr = tmp_path / "stderr.log"
    argv = [sys.executable, "-m", "flightdeck", "serve", "--config", str(config)]
    with stderr.open("wb") as err:
        proc = subprocess.Popen([*argv, "--port", str(port)], stdout=err, stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, stderr.read_text()
                time.sleep(0.2)
        traffic(url, key)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    lines = stderr.read_text().splitlines()
    requests = check_lines(lines, key)
    routes = [line["route"] for line in requests]
    assert routes.count("/v1/chat/completions") == 4 and "/v1/embeddings" in routes
    # each request line once, as JSON (not also through uvicorn's "INFO:" handler); the
    # buffered lines were written at shutdown
    assert [line for line in lines if '"route":' in line and not line.startswith("{")] == []


@pytest.mark.parametrize(
    ("clock", "stamp"),
    [
        (1764452000.0, "2025-11-29T21:33:20.000Z"),
        (1764452000.1234, "2025-11-29T21:33:20.123Z"),
        (1764452000.9999, "2025-11-29T21:33:20.999Z"),
        (1764452001.0004, "2025-11-29T21:33:21.000Z"),  # the next second, formatted anew
        (1764452000.5, "2025-11-29T21:33:20.500Z"),  # and back (a clock step)
        (0.001, "1970-01-01T00:00:00.001Z"),
    ],
)
def test_the_time_field_is_rfc_3339_utc_with_milliseconds(
    monkeypatch: pytest.MonkeyPatch, clock: float, stamp: str
) -> None:
    """``logs.now`` caches the stamp per millisecond and the seconds per second; each call
    still reads the clock (here stepped forward and back)."""
    from flightdeck.telemetry import logs

    logs.now()  # something cached from the real clock first
    monkeypatch.setattr(logs.time, "time", lambda: clock)
    assert logs.now() == stamp


def test_a_stamp_made_while_another_is_half_made_is_right(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thread switch inside ``now`` (here: another call made from inside ``gmtime``, where
    Python may switch threads) never pairs one second's text with another second's time."""
    from flightdeck.telemetry import logs

    clock = [1764452000.999]
    monkeypatch.setattr(logs.time, "time", lambda: clock[0])
    assert logs.now() == "2025-11-29T21:33:20.999Z"
    real_gmtime = logs.time.gmtime
    inner: list[str] = []
    switched = []

    def gmtime(seconds: float) -> time.struct_time:
        if not switched:  # "the other thread", once, at the first new second's formatting
            switched.append(True)
            clock[0] = 1764452001.005
            inner.append(logs.now())
            clock[0] = 1764452001.002
        return real_gmtime(seconds)

    monkeypatch.setattr(logs.time, "gmtime", gmtime)
    clock[0] = 1764452001.002
    assert logs.now() == "2025-11-29T21:33:21.002Z"
    assert inner == ["2025-11-29T21:33:21.005Z"]
    monkeypatch.setattr(logs.time, "gmtime", real_gmtime)
    clock[0] = 1764452001.007
    assert logs.now() == "2025-11-29T21:33:21.007Z"
