"""The /readyz policy with PostgreSQL made unreachable (a TCP proxy cut in front of it): ready
(degraded) while cached keys can still be authenticated, 503 when nobody can be; /healthz is
liveness only."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flightdeck.testing import FakeUpstream
from tests.conftest import MakeSettings, http
from tests.tenancy_support.tcp_proxy import TcpProxy


def readiness(url: str) -> tuple[int, str, str]:
    status, _, body = http("GET", url + "/readyz")
    return status, body["status"], body["checks"]["auth"]


def wait_for(url: str, expected: tuple[int, str, str]) -> tuple[int, str, str]:
    deadline = time.monotonic() + 20
    seen = readiness(url)
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        seen = readiness(url)
    return seen


def test_readiness_follows_whether_anyone_can_be_authenticated(
    fresh_pg_url: str, upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    database = urlsplit(fresh_pg_url).path
    with TcpProxy("127.0.0.1", 5432) as proxy:
        store_url = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}{database}"
        settings = make_settings([{"name": "m", "base_url": upstream.base_url}])
        settings.store.url = store_url
        other = settings.model_copy(deep=True)
        used = serve(settings)
        unused = serve(other)
        chat = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
        headers = {"Authorization": f"Bearer {used.api_key}", "Content-Type": "application/json"}
        assert http("POST", used.url + "/v1/chat/completions", chat, headers)[0] == 200
        assert readiness(used.url) == (200, "ready", "ok")
        assert readiness(unused.url) == (200, "ready", "ok")

        proxy.cut()
        assert wait_for(used.url, (200, "degraded", "cached_keys")) == (
            200,
            "degraded",
            "cached_keys",
        )
        assert http("POST", used.url + "/v1/chat/completions", chat, headers)[0] == 200
        assert wait_for(unused.url, (503, "unavailable", "unavailable")) == (
            503,
            "unavailable",
            "unavailable",
        )
        assert http("GET", unused.url + "/healthz")[0] == 200  # alive all the same

        proxy.restore()
        assert wait_for(unused.url, (200, "ready", "ok")) == (200, "ready", "ok")
