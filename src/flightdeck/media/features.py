"""Features stage: caption embeddings (local MiniLM) and CLIP-family image/text embeddings.

Runs at commit time on batches of rows, on the GPU when one is present. The models come from
:mod:`flightdeck.encoders` (loaded on first use, once per process).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from flightdeck.core.errors import ConfigError
from flightdeck.encoders.clip import ImageTextEncoder, load_clip
from flightdeck.encoders.devices import choose_device
from flightdeck.encoders.errors import ModelLoadError
from flightdeck.encoders.sentence import load_sentence_model
from flightdeck.media.options import FeatureOptions
from flightdeck.mediastore.schema import Row, Status


class Featurizer:
    """Adds embeddings to committed rows; models load on first use."""

    def __init__(self, options: FeatureOptions) -> None:
        self.options = options
        self._text: Any = None
        self._clip: ImageTextEncoder | None = None
        self._clip_loaded = False

    @property
    def device(self) -> str | None:
        """The torch device the models run on; None when no model is asked for."""
        if not self.options.text_embeddings and self.options.clip_model is None:
            return None
        return choose_device(self.options.device)

    def check(self) -> None:
        """Load the models now, so a bad --model or --device fails before any work."""
        if self.options.device:
            choose_device(self.options.device)
        if self.options.text_embeddings:
            self._text_model()
        self._clip_model()

    def _text_model(self) -> Any:
        if self._text is None:
            try:
                self._text = load_sentence_model(None, choose_device(self.options.device))
            except ConfigError as exc:
                raise ModelLoadError(
                    f"caption embeddings: {exc.message} (or pass --no-text-embeddings)"
                ) from exc
        return self._text

    def _clip_model(self) -> ImageTextEncoder | None:
        if not self._clip_loaded:
            self._clip = load_clip(
                self.options.clip_model, self.options.clip_weights, self.options.device
            )
            self._clip_loaded = True
        return self._clip

    def apply(self, rows: list[Row]) -> list[Row]:
        captioned = [r for r in rows if r.get("status") == Status.OK.value and r.get("caption")]
        if captioned and self.options.text_embeddings:
            vectors = self._text_model().encode(
                [r["caption"] for r in captioned],
                batch_size=self.options.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
            )
            for row, vector in zip(captioned, vectors, strict=True):
                row["text_embedding"] = vector.astype(np.float32).tolist()
        clip = self._clip_model()
        if clip is not None:
            self._apply_clip(clip, rows, captioned)
        return rows

    def _apply_clip(self, clip: ImageTextEncoder, rows: list[Row], captioned: list[Row]) -> None:
        pictured = [r for r in rows if r.get("status") == Status.OK.value and r.get("thumbnail")]
        size = self.options.batch_size
        for start in range(0, len(pictured), size):
            batch = pictured[start : start + size]
            images: list[Image.Image] = [Image.open(io.BytesIO(r["thumbnail"])) for r in batch]
            for row, vector in zip(batch, clip.encode_images(images), strict=True):
                row["image_embedding"] = vector.tolist()
        for start in range(0, len(captioned), size):
            batch = captioned[start : start + size]
            vectors = clip.encode_texts([r["caption"] for r in batch])
            for row, vector in zip(batch, vectors, strict=True):
                row["clip_text_embedding"] = vector.tolist()
