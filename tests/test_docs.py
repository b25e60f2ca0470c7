"""Docs that run: every config example validates, every setting is documented, the tour runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from flightdeck.core.settings import ModelDeployment, Settings, load_settings
from flightdeck.testing.server import ServerThread

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", path.read_text(), flags=re.S)


TOML_EXAMPLES = [(p.name, b) for p in DOCS for b in blocks(p, "toml")]


@pytest.mark.parametrize(("doc", "text"), TOML_EXAMPLES, ids=[d for d, _ in TOML_EXAMPLES])
def test_toml_examples_are_valid_config(tmp_path: Path, doc: str, text: str) -> None:
    path = tmp_path / "example.toml"
    path.write_text(text)
    env = {name: "secret" for name in re.findall(r'api_key_env = "(\w+)"', text)}
    load_settings(path, env)


def documented_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += documented_keys(annotation, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    keys = [k for k in documented_keys(Settings) if k != "models"]
    keys += [f"models.{k}" for k in ModelDeployment.model_fields]
    missing = [k for k in keys if f"`{k.rsplit('.', 1)[-1]}`" not in text]
    assert not missing, f"undocumented settings: {missing}"


def test_readme_tour_runs_against_a_live_server(local_server: ServerThread) -> None:
    (code,) = blocks(ROOT / "README.md", "python")
    env = {
        **os.environ,
        "FLIGHTDECK_URL": local_server.url,
        "FLIGHTDECK_API_KEY": local_server.api_key,
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Flightdeck speaks the OpenAI API. [1]"
    assert "Rayleigh scattering" in lines[1]
    assert lines[2] == "384"
