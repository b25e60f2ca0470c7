from __future__ import annotations

import openai
import pytest

from flightdeck.testing import FakeUpstream
from tests.conftest import MakeSettings, http


def test_healthz_and_readyz_without_auth(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    server = serve(make_settings([{"name": "m", "base_url": upstream.base_url, "id": "primary"}]))
    assert http("GET", server.url + "/healthz")[0] == 200
    status, _, body = http("GET", server.url + "/readyz")
    assert status == 200 and body["status"] == "ready"
    checks = body["checks"]
    assert (checks["store"], checks["deployments"]) == ("ok", {"primary": "closed"})
    assert (checks["limits"]["state"], checks["ledger"]["state"]) == ("ok", "ok")


def test_unknown_route_is_openai_shaped_404(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    server = serve(make_settings([{"name": "m", "base_url": upstream.base_url}]))
    status, _, body = http("GET", server.url + "/v1/nothing-here")
    assert status == 404 and body["error"]["type"] == "invalid_request_error"


def test_upstream_silent_mid_stream_ends_with_idle_timeout_event(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    upstream.behaviour.chunk_delay = 2.0
    settings = make_settings(
        [{"name": "m", "base_url": upstream.base_url}],
        router={"stream_idle_timeout_seconds": 0.3},
    )
    server = serve(settings)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "a b c d e f"}], stream=True
    )
    with pytest.raises(openai.APIError, match=r"sent nothing for 0\.3s"):
        for _ in stream:
            pass


def test_embedding_input_validation(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    server = serve(make_settings([{"name": "e", "base_url": upstream.base_url}]))
    headers = {"Authorization": f"Bearer {server.api_key}"}
    for bad in (
        b'{"model": "e"}',
        b'{"model": "e", "input": []}',
        b'{"model": "e", "input": [1, "a"]}',
    ):
        status, _, body = http("POST", server.url + "/v1/embeddings", bad, headers)
        assert status == 400 and body["error"]["param"] == "input"
