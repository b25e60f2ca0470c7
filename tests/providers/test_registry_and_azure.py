from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import openai
import pytest

from flightdeck.core.errors import ConfigError
from flightdeck.providers.base import Provider, UpstreamReply
from flightdeck.providers.registry import ProviderRegistry
from flightdeck.testing import FakeUpstream
from tests.conftest import MakeSettings

PLUGIN = """
from flightdeck.providers.base import Provider, UpstreamReply

class ShoutProvider(Provider):
    kind = "shout"
    supports_embeddings = False

    async def chat(self, body):
        text = body["messages"][-1]["content"].upper()
        return UpstreamReply.from_json({
            "id": "x", "object": "chat.completion", "created": 0, "model": "shout",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
        })
"""


@pytest.fixture
def plugin_on_path(tmp_path: Path) -> Any:
    """A third-party package with a real entry point in the flightdeck.providers group."""
    (tmp_path / "shout_plugin.py").write_text(PLUGIN)
    dist = tmp_path / "shout_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[flightdeck.providers]\nshout = shout_plugin:ShoutProvider\n"
    )
    sys.path.insert(0, str(tmp_path))
    yield
    sys.path.remove(str(tmp_path))
    sys.modules.pop("shout_plugin", None)


def test_third_party_provider_found_through_entry_points(
    plugin_on_path: None, make_settings: MakeSettings, serve
) -> None:
    registry = ProviderRegistry.default()
    assert "shout" in registry.kinds()
    server = serve(make_settings([{"name": "loud", "provider": "shout"}]))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)
    reply = client.chat.completions.create(
        model="loud", messages=[{"role": "user", "content": "hello"}]
    )
    assert reply.choices[0].message.content == "HELLO"


def test_unknown_provider_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown provider 'nope'.*local-extractive"):
        ProviderRegistry.default().get("nope")


def test_a_kind_cannot_be_registered_twice() -> None:
    class Impostor(Provider):
        kind = "openai"

        async def chat(self, body: dict[str, Any]) -> UpstreamReply:
            raise NotImplementedError

    with pytest.raises(ConfigError, match="registered twice"):
        ProviderRegistry.default().register(Impostor)


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [("api-key", "api-key", "az-secret"), ("bearer", "authorization", "Bearer az-secret")],
)
def test_azure_uses_deployment_urls_api_version_and_auth(
    upstream: FakeUpstream, make_settings: MakeSettings, serve, auth: str, header: str, value: str
) -> None:
    settings = make_settings(
        [
            {
                "name": "azure-chat",
                "provider": "azure-openai",
                "base_url": f"http://127.0.0.1:{upstream.port}",
                "deployment": "gpt4o-prod",
                "api_version": "2024-10-21",
                "api_key": "az-secret",
                "auth": auth,
            }
        ]
    )
    server = serve(settings)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)
    reply = client.chat.completions.create(
        model="azure-chat", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "echo: hi"
    assert upstream.record.counts["/openai/deployments/gpt4o-prod/chat/completions"] == 1
    assert upstream.record.last_query == {"api-version": "2024-10-21"}
    assert (
        upstream.record.last_headers[header.title() if header == "authorization" else header]
        == value
    )
