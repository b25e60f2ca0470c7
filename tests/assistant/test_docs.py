"""docs/assistant.md runs, and names every setting, event and route."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flightdeck.assistant.events import EVENT_NAMES
from flightdeck.core.settings import AssistantSettings
from flightdeck.testing.server import ServerThread

DOC = Path(__file__).parents[2] / "docs" / "assistant.md"


def test_every_setting_event_and_route_is_documented() -> None:
    text = DOC.read_text()
    for name in AssistantSettings.model_fields:
        assert f"`{name}`" in text, name
    for event in EVENT_NAMES:
        assert f"`{event}`" in text, event
    for route in ("/v1/assistant/chat", "/v1/assistant/extract", "/v1/assistant/conversations"):
        assert route in text


def test_the_python_example_runs(
    assistant_server: ServerThread,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    block = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None
    monkeypatch.setenv("FLIGHTDECK_URL", assistant_server.url)
    monkeypatch.setenv("FLIGHTDECK_API_KEY", assistant_server.api_key)
    exec(block.group(1), {})
    out = capsys.readouterr().out
    assert "crack open shellfish" in out and '"n":1' in out
