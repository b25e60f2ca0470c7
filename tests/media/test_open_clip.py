"""open_clip models (``--model WEIGHTS --model-arch NAME|CONFIG.json``) with a tiny randomly
initialised architecture the test writes and saves. open_clip needs torchvision, which has no
build for the CPU torch of .venv: these tests run in .venv-openclip (``make test-openclip``)."""

from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from flightdeck.encoders.clip import Matrix, OpenClip, clip_pixels
from flightdeck.encoders.errors import ModelLoadError
from flightdeck.media.features import Featurizer
from flightdeck.media.options import FeatureOptions
from flightdeck.mediastore.store import MediaStore
from tests.media.conftest import textured_jpeg

open_clip: Any = pytest.importorskip(
    "open_clip",
    reason="open_clip (and torchvision) are not importable here; run make test-openclip",
    exc_type=ImportError,
)

DOCS = Path(__file__).parents[2] / "docs" / "media.md"
# Vocabulary and context length stay at CLIP's, so open_clip's bundled SimpleTokenizer fits.
TINY: dict[str, Any] = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
WIDER = {**TINY, "vision_cfg": {**TINY["vision_cfg"], "width": 48}}


@dataclass
class SavedModel:
    """A model config file, the weights of ``model`` saved in both formats, and ``model``."""

    config: Path
    weights: Path  # torch.save of the state dict
    safetensors: Path
    model: Any


def _random_model(config: dict[str, Any], seed: int) -> Any:
    torch.manual_seed(seed)
    return open_clip.CLIP(**config).eval()


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> SavedModel:
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("open-clip")
    config = folder / "tiny-clip.json"
    config.write_text(json.dumps(TINY))
    model = _random_model(TINY, seed=0)
    torch.save(model.state_dict(), folder / "tiny-clip.pt")
    save_file(model.state_dict(), folder / "tiny-clip.safetensors")
    return SavedModel(config, folder / "tiny-clip.pt", folder / "tiny-clip.safetensors", model)


def _unit(matrix: Any) -> Matrix:
    array = matrix.detach().numpy().astype(np.float32)
    result: Matrix = array / np.linalg.norm(array, axis=1, keepdims=True)
    return result


def _image_reference(model: Any, images: list[Image.Image]) -> Matrix:
    with torch.inference_mode():
        return _unit(model.encode_image(clip_pixels(images, 32)))


def _text_reference(model: Any, texts: list[str]) -> Matrix:
    with torch.inference_mode():
        return _unit(model.encode_text(open_clip.tokenize(texts)))


def _flightdeck(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "flightdeck", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def _pictures(count: int) -> list[Image.Image]:
    return [Image.open(io.BytesIO(textured_jpeg(i, (64, 48)))) for i in range(count)]


@pytest.mark.parametrize("format", ["pt", "safetensors"])
def test_loaded_model_embeds_like_the_saved_model(saved: SavedModel, format: str) -> None:
    weights = saved.weights if format == "pt" else saved.safetensors
    clip = OpenClip.load(str(saved.config), str(weights), "cpu")
    images, texts = _pictures(3), ["a cat", "a dog running on a beach"]
    ours_images, ours_texts = clip.encode_images(images), clip.encode_texts(texts)
    assert clip.image_size == 32 and ours_images.shape == (3, 16) and ours_texts.shape == (2, 16)
    np.testing.assert_allclose(ours_images, _image_reference(saved.model, images), atol=1e-5)
    np.testing.assert_allclose(ours_texts, _text_reference(saved.model, texts), atol=1e-5)
    stranger = _random_model(TINY, seed=1)  # the comparison tells weights apart
    assert not np.allclose(ours_images, _image_reference(stranger, images), atol=1e-3)
    assert not np.allclose(ours_texts, _text_reference(stranger, texts), atol=1e-3)


def _documented_command() -> list[str]:
    """docs/media.md's open_clip example with a config file of one's own, less `flightdeck`."""
    blocks = re.findall(r"```bash\n(.*?)```", DOCS.read_text(), flags=re.S)
    (line,) = [
        line
        for block in blocks
        for line in block.splitlines()
        if line.startswith(".venv-openclip/bin/flightdeck ") and ".json" in line
    ]
    return shlex.split(line)[1:]


def test_documented_command_stores_open_clip_embeddings(saved: SavedModel, tmp_path: Path) -> None:
    argv = _documented_command()
    shutil.copy(saved.config, tmp_path / argv[argv.index("--model-arch") + 1])
    shutil.copy(saved.weights, tmp_path / argv[argv.index("--model") + 1])
    folder = tmp_path / argv[2]  # media ingest SOURCE
    folder.mkdir()
    captions = {0: "a red sunset over the sea", 2: "pine trees in the snow"}
    for i in range(4):
        (folder / f"img{i}.jpg").write_bytes(textured_jpeg(i))
        if i in captions:
            (folder / f"img{i}.txt").write_text(captions[i])
    done = _flightdeck(*argv, "--no-text-embeddings", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    store = tmp_path / argv[argv.index("--out") + 1]
    rows = MediaStore.open(str(store)).read_all().to_pylist()
    assert [r["status"] for r in rows] == ["ok"] * 4
    images = np.array([r["image_embedding"] for r in rows], dtype=np.float32)
    assert images.shape == (4, 16)
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    assert [r["clip_text_embedding"] is not None for r in rows] == [True, False, True, False]
    thumbnail = Image.open(io.BytesIO(rows[2]["thumbnail"]))
    np.testing.assert_allclose(images[2], _image_reference(saved.model, [thumbnail])[0], atol=1e-5)
    text = np.array(rows[2]["clip_text_embedding"], dtype=np.float32)
    np.testing.assert_allclose(text, _text_reference(saved.model, [captions[2]])[0], atol=1e-5)


@pytest.mark.parametrize(
    ("arch", "weights", "message"),
    [
        ("ViT-Nope-99", "{weights}", "unknown open_clip architecture 'ViT-Nope-99'"),
        ("{config}", "{tmp}/missing.pt", "weights file .* does not exist"),
        ("{tmp}/missing.json", "{weights}", "model config .* does not exist"),
        ("{tmp}/other.json", "{weights}", "is not an open_clip model config"),
        ("{tmp}/wider.json", "{weights}", "not a checkpoint of that architecture"),
        ("ViT-B-32", "{weights}", "not a checkpoint of that architecture"),
        ("{config}", "{tmp}/garbage.pt", "not a checkpoint of that architecture"),
    ],
    ids=[
        "unknown-name",
        "no-weights",
        "no-config",
        "not-a-config",
        "other-arch",
        "built-in",
        "not-weights",
    ],
)
def test_unloadable_model_is_a_clear_error(
    saved: SavedModel, tmp_path: Path, arch: str, weights: str, message: str
) -> None:
    (tmp_path / "other.json").write_text(json.dumps({"model": "x"}))
    (tmp_path / "wider.json").write_text(json.dumps(WIDER))
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    paths = {"config": saved.config, "weights": saved.weights, "tmp": tmp_path}
    options = FeatureOptions(
        text_embeddings=False,
        clip_model=arch.format(**paths),
        clip_weights=weights.format(**paths),
        device="cpu",
    )
    with pytest.raises(ModelLoadError, match=message) as caught:
        Featurizer(options).check()
    assert "\n" not in caught.value.message


def test_cli_reports_mismatched_weights_in_one_line(saved: SavedModel, tmp_path: Path) -> None:
    wider = tmp_path / "wider.json"
    wider.write_text(json.dumps(WIDER))
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(textured_jpeg(0))
    done = _flightdeck(
        "media",
        "ingest",
        str(tmp_path / "photos"),
        "--out",
        str(tmp_path / "s"),
        "--no-text-embeddings",
        "--model",
        str(saved.weights),
        "--model-arch",
        str(wider),
    )
    # the run's header line ("media ingest A -> B (loading models on cpu)"), then one error line
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 1 and len(errors) == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert errors[0].startswith(f"error: cannot load {str(saved.weights)!r} into open_clip 'wider'")
    assert "size mismatch" in errors[0]
