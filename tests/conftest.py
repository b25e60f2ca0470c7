"""Shared fixtures: real servers on loopback ports, a SQLite store in tmp_path."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flightdeck.core.settings import Settings, default_local_models, load_settings
from flightdeck.testing import Behaviour, FakeUpstream
from flightdeck.testing.server import ServerThread

MakeSettings = Callable[..., Settings]


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(Behaviour()) as fake:
        yield fake


@pytest.fixture
def make_settings(tmp_path: Path) -> MakeSettings:
    """Settings with a fresh SQLite store; pass ``models=[...]`` and section overrides."""

    def make(models: list[dict[str, Any]], **sections: Any) -> Settings:
        data: dict[str, Any] = {"home": str(tmp_path / "home"), "server": {"port": 0}}
        data["models"] = models
        data["router"] = {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.05}
        for key, value in sections.items():
            data[key] = {**data.get(key, {}), **value}
        return load_settings(None, {}, defaults=data)

    return make


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """One server with the embedded local models, shared by the tests that need them."""
    settings = load_settings(
        None,
        {},
        defaults={
            "home": str(tmp_path_factory.mktemp("local")),
            "server": {"port": 0},
            "models": default_local_models(),
        },
    )
    with ServerThread(settings) as server:
        yield server


@pytest.fixture
def serve() -> Iterator[Callable[[Settings], ServerThread]]:
    started: list[ServerThread] = []

    def start(settings: Settings) -> ServerThread:
        server = ServerThread(settings).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """A raw HTTP call (stdlib only), for bodies and headers the SDK would not send."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, resp_headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        status, resp_headers, raw = err.code, dict(err.headers), err.read()
    return status, {k.lower(): v for k, v in resp_headers.items()}, json.loads(raw) if raw else None
