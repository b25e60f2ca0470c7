"""Features: MiniLM caption embeddings and a tiny randomly initialised CLIP the test saves."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flightdeck.encoders.clip import HuggingFaceClip, clip_pixels
from flightdeck.encoders.errors import ModelLoadError
from flightdeck.media.engines.local import LocalEngine
from flightdeck.media.features import Featurizer
from flightdeck.media.ingest import ingest
from flightdeck.media.options import FeatureOptions, IngestOptions
from flightdeck.media.sources import open_source
from flightdeck.mediastore.store import MediaStore
from tests.media.conftest import textured_jpeg


def _bytes_to_unicode() -> list[str]:
    """GPT-2/CLIP byte-level alphabet (256 printable characters)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    keep += list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPModel

    folder = tmp_path_factory.mktemp("tiny-clip")
    alphabet = _bytes_to_unicode()
    vocab = {c: i for i, c in enumerate(alphabet)}
    vocab |= {c + "</w>": 256 + i for i, c in enumerate(alphabet)}
    vocab |= {"<|startoftext|>": 512, "<|endoftext|>": 513}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={
            "vocab_size": 514,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
            "bos_token_id": 512,
            "eos_token_id": 513,
            "pad_token_id": 513,
        },
        vision_config={
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
        },
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(folder)
    return folder


def _rows(captions: list[str | None]) -> list[dict[str, object]]:
    return [
        {"doc_id": str(i), "status": "ok", "caption": c, "thumbnail": textured_jpeg(i, (48, 40))}
        for i, c in enumerate(captions)
    ]


def test_caption_embeddings_with_local_minilm() -> None:
    rows = Featurizer(FeatureOptions()).apply(
        _rows(["a red sports car", "a fast red automobile", "a bowl of soup", None])
    )
    vectors = [np.array(r["text_embedding"]) for r in rows[:3]]
    assert all(len(v) == 384 for v in vectors)
    assert "text_embedding" not in rows[3]
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_tiny_clip_embeds_images_and_captions(tiny_clip: Path) -> None:
    options = FeatureOptions(text_embeddings=False, clip_model=str(tiny_clip), batch_size=2)
    rows = Featurizer(options).apply(_rows(["a cat", None, "a dog"]))
    images = [np.array(r["image_embedding"]) for r in rows]
    assert all(v.shape == (16,) and abs(np.linalg.norm(v) - 1) < 1e-4 for v in images)
    assert not np.allclose(images[0], images[1])
    assert len(rows[0]["clip_text_embedding"]) == 16 and "clip_text_embedding" not in rows[1]


def test_clip_image_features_match_the_model_forward(tiny_clip: Path) -> None:
    import torch

    clip = HuggingFaceClip.load(str(tiny_clip), "cpu")
    image = Image.open(io.BytesIO(textured_jpeg(5, (64, 48))))
    ours = clip.encode_images([image])[0]
    pixels = clip_pixels([image], 32)
    ids = clip.tokenizer(["x"], return_tensors="pt")
    with torch.inference_mode():
        reference = clip.model(pixel_values=pixels, **ids).image_embeds[0].numpy()
    np.testing.assert_allclose(ours, reference / np.linalg.norm(reference), atol=1e-5)


def test_clip_preprocessing_matches_pillow_and_numpy_image_by_image() -> None:
    """The threaded batch equals the plain per-image recipe, each image in its own slot."""
    images = [
        Image.open(io.BytesIO(textured_jpeg(i, size)))
        for i, size in enumerate([(64, 48), (40, 90), (33, 33), (200, 120), (48, 64)] * 4)
    ]
    images.append(Image.new("L", (50, 70), 128))

    def reference(image: Image.Image) -> np.ndarray:
        rgb = image.convert("RGB")
        scale = 32 / min(rgb.size)
        w, h = max(32, round(rgb.width * scale)), max(32, round(rgb.height * scale))
        rgb = rgb.resize((w, h), Image.Resampling.BICUBIC)
        left, top = (w - 32) // 2, (h - 32) // 2
        crop = np.asarray(rgb.crop((left, top, left + 32, top + 32)), dtype=np.float32)
        mean = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
        std = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
        return ((crop / 255.0 - mean) / std).transpose(2, 0, 1)

    batch = clip_pixels(images, 32).numpy()
    np.testing.assert_allclose(batch, np.stack([reference(i) for i in images]), atol=1e-6)


def test_clip_preprocessing_shape_and_normalisation() -> None:
    batch = clip_pixels([Image.new("RGB", (90, 60), (255, 255, 255))], 32).numpy()
    assert batch.shape == (1, 3, 32, 32)
    np.testing.assert_allclose(
        batch[0, :, 0, 0],
        (1 - np.array([0.48145466, 0.4578275, 0.40821073]))
        / np.array([0.26862954, 0.26130258, 0.27577711]),
        rtol=1e-5,
    )


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    options = FeatureOptions(text_embeddings=False, clip_model=str(tmp_path / "nope"))
    with pytest.raises(ModelLoadError, match="is not a CLIP folder"):
        Featurizer(options).check()


def test_open_clip_weights_file_must_exist(tmp_path: Path) -> None:
    options = FeatureOptions(
        text_embeddings=False, clip_model="ViT-B-32", clip_weights=str(tmp_path / "missing.pt")
    )
    with pytest.raises(ModelLoadError, match="does not exist"):
        Featurizer(options).check()


def test_open_clip_not_installed_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "w.pt").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "open_clip", None)  # import open_clip raises ImportError
    options = FeatureOptions(
        text_embeddings=False, clip_model="ViT-B-32", clip_weights=str(tmp_path / "w.pt")
    )
    with pytest.raises(ModelLoadError, match=r"pip install open_clip_torch"):
        Featurizer(options).check()


def test_ingest_with_a_clip_model_embeds_every_kept_image(
    tiny_clip: Path, image_folder: Path, tmp_path: Path
) -> None:
    options = IngestOptions(
        features=FeatureOptions(text_embeddings=False, clip_model=str(tiny_clip)),
        shard_size=3,
    )
    engine = LocalEngine(1)
    try:
        ingest(
            open_source([str(image_folder)]),
            MediaStore.open_writer(str(tmp_path / "s")),
            options,
            engine,
        )
    finally:
        engine.close()
    rows = MediaStore.open(str(tmp_path / "s")).read_all().to_pylist()
    assert len(rows) == 5
    assert all(len(r["image_embedding"]) == 16 for r in rows if r["status"] == "ok")
