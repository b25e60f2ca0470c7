"""The knobs of one ingest run, as small value classes passed to every stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class ResizeMode(StrEnum):
    """How thumbnails are sized; the same meanings as img2dataset's modes."""

    KEEP_RATIO = "keep_ratio"  # the smaller side becomes image_size, ratio kept
    CENTER_CROP = "center_crop"  # the smaller side becomes image_size, then a centred square
    BORDER = "border"  # the larger side becomes image_size, padded to a square


class KeyframeMode(StrEnum):
    """How keyframes are picked from a video."""

    SCENE = "scene"
    INTERVAL = "interval"


@dataclass(frozen=True)
class FetchOptions:
    """HTTP fetching: concurrency, limits and the guards applied to every hop."""

    concurrency: int = 64
    timeout_s: float = 10.0
    retries: int = 2
    backoff_s: float = 0.5
    max_bytes: int = 50 * 1024 * 1024
    max_redirects: int = 5
    allowed_content_types: tuple[str, ...] = (
        "image/",
        "video/",
        "application/octet-stream",
        "binary/octet-stream",
    )
    respect_noai: bool = True
    allow_private_addresses: bool = False
    # Local paths (and file://) in a manifest: only when SOURCE itself is local (ingest sets it).
    local_paths: bool = False
    # Schemes besides http(s) read through fsspec's own client (s3, gs, ...): the operator's
    # explicit choice (--allow-scheme), never guarded against SSRF. Chained URLs never.
    object_store_schemes: tuple[str, ...] = ()
    user_agent: str = "flightdeck-media/0.1"


@dataclass(frozen=True)
class ImageOptions:
    """Decoding and thumbnail encoding."""

    image_size: int = 256
    resize_mode: ResizeMode = ResizeMode.KEEP_RATIO
    thumbnail_format: str = "jpeg"  # jpeg or webp
    thumbnail_quality: int = 95
    max_pixels: int = 89_478_485  # Pillow's own default bomb limit


@dataclass(frozen=True)
class VideoOptions:
    """Keyframe sampling."""

    keyframe_mode: KeyframeMode = KeyframeMode.SCENE
    interval_s: float = 1.0
    scene_threshold: float = 0.15  # mean absolute difference of 32x32 RGB frames, 0..1
    max_keyframes: int = 64


@dataclass(frozen=True)
class FeatureOptions:
    """Embeddings computed at commit time."""

    text_embeddings: bool = True
    # A Hugging Face CLIP folder; with clip_weights, an open_clip name ("ViT-B-32") or config .json
    clip_model: str | None = None
    clip_weights: str | None = None  # local open_clip weights file for clip_model
    batch_size: int = 64
    device: str | None = None  # None: cuda when available, else cpu


@dataclass(frozen=True)
class IngestOptions:
    """Everything one ``flightdeck media ingest`` run needs, passed down to every stage."""

    fetch: FetchOptions = field(default_factory=FetchOptions)
    image: ImageOptions = field(default_factory=ImageOptions)
    video: VideoOptions = field(default_factory=VideoOptions)
    features: FeatureOptions = field(default_factory=FeatureOptions)
    shard_size: int = 1000
    decode_threads: int = 2  # per worker process
    near_duplicate_distance: int = 4  # Hamming distance of 64-bit pHashes; -1 disables

    def output_signature(self) -> dict[str, Any]:
        """The options that change what is written; a store refuses runs that differ here."""
        return {
            "image": {k: str(v) for k, v in asdict(self.image).items()},
            "shard_size": self.shard_size,
        }
