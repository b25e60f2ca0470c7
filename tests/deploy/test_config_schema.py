"""deploy/flightdeck.schema.json is the configuration's schema as this code defines it."""

from __future__ import annotations

import json
from pathlib import Path

from flightdeck.core.settings import settings_json_schema

SCHEMA = Path(__file__).resolve().parents[2] / "deploy" / "flightdeck.schema.json"


def test_the_committed_schema_is_current() -> None:
    assert json.loads(SCHEMA.read_text()) == settings_json_schema(), (
        "settings changed: regenerate with "
        "`flightdeck config schema > deploy/flightdeck.schema.json`"
    )
