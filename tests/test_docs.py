"""Docs that run: every config example validates, every setting is documented, the tour runs."""

from __future__ import annotations

import os
import re
import shlex
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


def test_readme_media_and_search_commands_run(tmp_path: Path) -> None:
    """The README's `flightdeck media/collections/search` lines, run as written, in a folder
    with captioned photos (sidecar .txt files)."""
    import numpy as np
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    captions = ["a red sunset over the sea", "a dog running on a sandy beach", "pine trees"]
    for i, caption in enumerate(captions):
        pixels = np.random.default_rng(i).integers(0, 255, (240, 320, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(photos / f"img{i}.jpg")
        (photos / f"img{i}.txt").write_text(caption)
    commands = [
        shlex.split(line)[1:]
        for block in blocks(ROOT / "README.md", "bash")
        for line in block.splitlines()
        if line.startswith(".venv/bin/flightdeck ")
        and line.split()[1] in ("media", "collections", "search")
    ]
    assert [c[0] for c in commands] == ["media", "collections", "search"]
    outputs = []
    for argv in commands:
        done = subprocess.run(
            [sys.executable, "-m", "flightdeck", *argv],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    best = next(line for line in outputs[-1].splitlines() if line.startswith("│ 1 "))
    assert "a dog running on a sandy beach" in best
