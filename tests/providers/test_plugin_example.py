"""The example provider package (examples/provider-plugin) installs with pip and serves through
the gateway: found by its entry point, called with the official openai SDK."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
import pytest

from flightdeck.providers import ProviderRegistry
from flightdeck.testing import FakeUpstream
from flightdeck.testing.server import ServerThread

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "provider-plugin"
MODULE = EXAMPLE / "src" / "flightdeck_keyed_openai" / "__init__.py"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package, pip-installed (no dependencies, no index) into a temporary target."""
    work = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(EXAMPLE, work / "source")  # the build writes next to its sources
    target = work / "site"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
            *("--no-deps", "--no-index", "--no-build-isolation", "--target", str(target)),
            str(source),
        ],
        check=True,
        timeout=300,
    )
    return target


def test_the_registry_finds_the_installed_plugin_by_its_entry_point(
    installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "keyed-openai" not in ProviderRegistry.default().kinds()
    monkeypatch.syspath_prepend(str(installed))
    assert "keyed-openai" in ProviderRegistry.default().kinds()


def test_the_plugin_serves_chat_and_streams_through_the_gateway(
    installed: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Any
) -> None:
    monkeypatch.syspath_prepend(str(installed))
    with FakeUpstream() as fake:
        model = {"name": "team-llm", "provider": "keyed-openai", "base_url": fake.base_url}
        settings = make_settings([model | {"api_key": "sk-plugin", "model": "upstream-name"}])
        with ServerThread(settings) as server:
            client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key)
            messages: Any = [{"role": "user", "content": "hello"}]
            reply = client.chat.completions.create(model="team-llm", messages=messages)
            headers = {k.lower(): v for k, v in fake.record.last_headers.items()}
            stream = client.chat.completions.create(
                model="team-llm", messages=messages, stream=True
            )
            streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert reply.choices[0].message.content
    assert streamed
    assert headers["x-api-key"] == "sk-plugin"
    assert "authorization" not in headers


def test_the_example_in_the_docs_is_the_example_package() -> None:
    doc = (ROOT / "docs" / "providers.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert code in MODULE.read_text(encoding="utf-8")
