"""CLIP-family image/text encoders, loaded once per process (the media pipeline's features
stage and search's query encoder share them), on the GPU when one is present.

CLIP-family weights are user-supplied: a Hugging Face CLIP folder (config.json plus
safetensors, loaded with ``transformers.CLIPModel``), or an open_clip architecture (a built-in
name or a model config .json) plus a local weights file (needs ``open_clip_torch`` and its
torchvision dependency).
"""

from __future__ import annotations

import functools
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from flightdeck.encoders.devices import choose_device
from flightdeck.encoders.errors import ModelLoadError

_CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
_CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
_CONFIG_KEYS = {"embed_dim", "vision_cfg", "text_cfg"}  # what open_clip requires of a config
Matrix = npt.NDArray[np.float32]


class ImageTextEncoder(Protocol):
    """A CLIP-family model: images and texts into one space."""

    def encode_images(self, images: list[Image.Image]) -> Matrix: ...
    def encode_texts(self, texts: list[str]) -> Matrix: ...


@functools.cache
def _preprocessing_threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(min(8, os.cpu_count() or 1), thread_name_prefix="clip-pixels")


def clip_crops(images: list[Image.Image], size: int) -> npt.NDArray[np.uint8]:
    """Shorter side to ``size`` (bicubic), centre crop: NHWC uint8. Images are decoded and
    resized in up to 8 threads (Pillow releases the GIL): on an H100 host, one thread fed a
    ViT-B-32 250-280 images/s, eight 1,270-1,330 (16 no more), the model alone takes 3,800."""
    batch = np.empty((len(images), size, size, 3), dtype=np.uint8)

    def crop(i: int) -> None:
        rgb = images[i].convert("RGB")
        scale = size / min(rgb.size)
        w, h = max(size, round(rgb.width * scale)), max(size, round(rgb.height * scale))
        rgb = rgb.resize((w, h), Image.Resampling.BICUBIC)
        left, top = (w - size) // 2, (h - size) // 2
        batch[i] = np.asarray(rgb.crop((left, top, left + size, top + size)))

    list(_preprocessing_threads().map(crop, range(len(images))))
    return batch


def clip_pixels(images: list[Image.Image], size: int, device: str = "cpu") -> Any:
    """CLIP preprocessing: :func:`clip_crops`, then scale to 0..1 and normalise with CLIP's
    mean and std on ``device`` (a quarter of the bytes to copy, and no CPU time on a GPU's
    share of the work); an NCHW float32 torch tensor."""
    import torch

    crops = torch.from_numpy(clip_crops(images, size)).to(device)
    mean = torch.from_numpy(_CLIP_MEAN).to(device).view(1, 3, 1, 1)
    std = torch.from_numpy(_CLIP_STD).to(device).view(1, 3, 1, 1)
    return ((crops.permute(0, 3, 1, 2).float() / 255.0 - mean) / std).contiguous()


def _normalised(matrix: Any) -> Matrix:
    array = np.asarray(matrix.detach().float().cpu().numpy(), dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    result: Matrix = array / np.maximum(norms, 1e-12)
    return result


@dataclass
class HuggingFaceClip:
    """``transformers.CLIPModel`` from a local folder (config.json + weights + tokenizer)."""

    model: Any
    tokenizer: Any
    image_size: int
    device: str

    @classmethod
    def load(cls, folder: str, device: str | None) -> HuggingFaceClip:
        try:
            import torch  # noqa: F401
            from transformers import CLIPModel, CLIPTokenizer
            from transformers.utils import logging as transformers_logging
        except ImportError as exc:
            raise ModelLoadError(
                "CLIP features need torch and transformers: pip install 'flightdeck[local]'"
            ) from exc
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            model: Any = CLIPModel.from_pretrained(folder, local_files_only=True)
            tokenizer = CLIPTokenizer.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot load a CLIP model from {folder!r}: {exc}") from exc
        chosen = choose_device(device)
        model = model.to(chosen).eval()
        return cls(model, tokenizer, int(model.config.vision_config.image_size), chosen)

    def encode_images(self, images: list[Image.Image]) -> Matrix:
        import torch

        pixels = clip_pixels(images, self.image_size, self.device)
        with torch.inference_mode():
            return _normalised(_tensor(self.model.get_image_features(pixel_values=pixels)))

    def encode_texts(self, texts: list[str]) -> Matrix:
        import torch

        tokens = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        with torch.inference_mode():
            features = self.model.get_text_features(
                **{k: v.to(self.device) for k, v in tokens.items()}
            )
            return _normalised(_tensor(features))


@dataclass
class OpenClip:
    """An open_clip architecture with a local weights file."""

    model: Any
    tokenizer: Any
    image_size: int
    device: str

    @classmethod
    def load(cls, arch: str, weights: str, device: str | None) -> OpenClip:
        """``arch``: a built-in open_clip name (``ViT-B-32``) or a model config ``.json`` file,
        registered with open_clip under its file name without ``.json``."""
        if not os.path.isfile(weights):
            raise ModelLoadError(f"weights file {weights!r} does not exist")
        config = os.path.abspath(arch) if arch.endswith(".json") else None
        name = arch if config is None else _config_name(config)
        try:
            import open_clip
        except ImportError as exc:
            raise ModelLoadError(
                "open_clip models need open_clip_torch and a torchvision built for the installed "
                f"torch (pip install open_clip_torch): {_one_line(exc)}"
            ) from exc
        if config is not None:
            open_clip.add_model_config(config)
        if name not in open_clip.list_models():
            raise ModelLoadError(
                f"unknown open_clip architecture {name!r}: use a built-in name such as ViT-B-32 "
                "(open_clip.list_models()) or a model config .json file"
            )
        chosen = choose_device(device)
        try:
            model = open_clip.create_model(name, pretrained=weights, device=chosen)
            tokenizer = open_clip.get_tokenizer(name)
        except Exception as exc:
            # A file that does not fit raises RuntimeError, AssertionError, UnpicklingError or
            # SafetensorError, depending on how it differs.
            raise ModelLoadError(
                f"cannot load {weights!r} into open_clip {name!r} (not a checkpoint of that "
                f"architecture?): {_one_line(exc)}"
            ) from exc
        size = model.visual.image_size
        side = int(size[0] if isinstance(size, tuple | list) else size)
        return cls(model.eval(), tokenizer, side, chosen)

    def encode_images(self, images: list[Image.Image]) -> Matrix:
        import torch

        pixels = clip_pixels(images, self.image_size, self.device)
        with torch.inference_mode():
            return _normalised(self.model.encode_image(pixels))

    def encode_texts(self, texts: list[str]) -> Matrix:
        import torch

        with torch.inference_mode():
            return _normalised(self.model.encode_text(self.tokenizer(texts).to(self.device)))


def _config_name(path: str) -> str:
    """Check an open_clip model config file; its name is the file name less ``.json``."""
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)
    except FileNotFoundError:
        raise ModelLoadError(f"model config {path!r} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"model config {path!r} is not readable JSON: {exc}") from exc
    if not isinstance(config, dict) or not config.keys() >= _CONFIG_KEYS:
        raise ModelLoadError(
            f"{path!r} is not an open_clip model config: it needs embed_dim, vision_cfg, text_cfg"
        )
    return Path(path).stem


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, cut to ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _tensor(output: Any) -> Any:
    """transformers may return a tensor or an output object holding ``pooler_output``."""
    return output if hasattr(output, "detach") else output.pooler_output


_LOADING = threading.Lock()  # a search worker and an ingest may ask at the same moment


def load_clip(
    model: str | None, weights: str | None = None, device: str | None = None
) -> ImageTextEncoder | None:
    """The CLIP-family encoder for ``model`` (a Hugging Face CLIP folder; with ``weights``, an
    open_clip name or config .json), on ``device`` (None: cuda when present, else cpu), loaded
    once per process; None when ``model`` is None. Raises ModelLoadError."""
    if model is None:
        return None
    with _LOADING:
        return _load_clip(model, weights, device)


@functools.cache
def _load_clip(model: str, weights: str | None, device: str | None) -> ImageTextEncoder:
    if weights is None:
        if not os.path.isdir(model):
            raise ModelLoadError(
                f"--model {model!r} is not a CLIP folder; for open_clip pass "
                "--model WEIGHTS_FILE --model-arch NAME|CONFIG.json"
            )
        return HuggingFaceClip.load(model, device)
    return OpenClip.load(model, weights, device)
