"""Fixtures of the assistant tests: a server with the local extractive model, SSE reading."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from flightdeck.core.settings import Settings
from flightdeck.testing.server import ServerThread

EXTRACTIVE = {"name": "local/extractive", "provider": "local-extractive"}

OTTERS = """<html><head><title>Sea otters</title></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/about">About us</a></nav>
<article>
<h1>Sea otters</h1>
<p>Sea otters use rocks as tools to crack open shellfish. They often keep a favourite rock in a
pouch of loose skin under their forearm.</p>
<h2>Habitat</h2>
<p>Sea otters live along the coasts of the northern Pacific Ocean, from Japan to California.
Kelp forests give them shelter from storms and predators.</p>
<h2>Fur</h2>
<p>Their fur is the densest of any animal, with up to a million hairs per square inch, which
keeps them warm without a layer of blubber.</p>
</article>
<footer>Copyright 2026 Otter Facts. All rights reserved.</footer>
</body></html>"""


def post_events(
    server: ServerThread, body: dict[str, Any], key: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """POST a chat request and read its server-sent events, in order."""
    request = urllib.request.Request(
        server.url + "/v1/assistant/chat",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {key or server.api_key}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    events = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def call(
    server: ServerThread, method: str, path: str, body: Any = None, key: str | None = None
) -> tuple[int, Any]:
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    request = urllib.request.Request(
        server.url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {key or server.api_key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


@pytest.fixture
def assistant_server(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], ServerThread]
) -> ServerThread:
    """A server with the offline extractive model; BM25-only ranking (no model load)."""
    return serve(make_settings([EXTRACTIVE], assistant={"embeddings": False}))
