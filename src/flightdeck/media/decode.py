"""Decode stage: bytes to a normalised thumbnail, refusing bombs and truncated files.

JPEGs are decoded at reduced size (``Image.draft``) when the thumbnail is smaller than the
source, which is where most of the speed comes from. EXIF orientation is honoured.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from flightdeck.media.errors import DocumentFailed, FailureReason
from flightdeck.media.hashing import perceptual_hash, sha256_hex
from flightdeck.media.options import ImageOptions, ResizeMode

_ROTATED = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """What the rest of the pipeline keeps of an image."""

    width: int  # of the original, upright
    height: int
    sha256: str  # of the original bytes
    phash: int
    thumbnail: bytes
    thumbnail_width: int
    thumbnail_height: int


def decode_image(data: bytes, options: ImageOptions) -> DecodedImage:
    """Decode, orient, hash and thumbnail one image; raises :class:`DocumentFailed`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > options.max_pixels:
                raise DocumentFailed(
                    FailureReason.DECOMPRESSION_BOMB,
                    f"{width}x{height} > {options.max_pixels} pixels",
                )
            orientation = image.getexif().get(_ORIENTATION_TAG, 1)
            if image.format == "JPEG":
                scale = _scale(width, height, options)
                image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
            image.load()
            upright = ImageOps.exif_transpose(image) if orientation != 1 else image
    except DocumentFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DocumentFailed(FailureReason.DECOMPRESSION_BOMB, str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise DocumentFailed(FailureReason.UNDECODABLE, "not an image Pillow can read") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        reason = FailureReason.TRUNCATED if "truncated" in str(exc) else FailureReason.UNDECODABLE
        raise DocumentFailed(reason, str(exc)) from exc
    if orientation in _ROTATED:
        width, height = height, width
    return thumbnail_of(upright, width, height, sha256_hex(data), options)


def thumbnail_of(
    image: Image.Image, width: int, height: int, sha256: str, options: ImageOptions
) -> DecodedImage:
    """Resize ``image`` (already upright) by ``options``, hash it and encode the thumbnail."""
    rgb = image if image.mode == "RGB" else _to_rgb(image)
    scaled = scale(rgb, options.image_size, options.resize_mode)
    phash = perceptual_hash(scaled)  # the whole picture, before any crop or border
    thumb = frame(scaled, options.image_size, options.resize_mode)
    buffer = io.BytesIO()
    if options.thumbnail_format == "webp":
        thumb.save(buffer, format="WEBP", quality=options.thumbnail_quality)
    else:
        thumb.save(buffer, format="JPEG", quality=options.thumbnail_quality)
    return DecodedImage(width, height, sha256, phash, buffer.getvalue(), thumb.width, thumb.height)


def resize(image: Image.Image, size: int, mode: ResizeMode) -> Image.Image:
    """Resize by ``mode``: keep_ratio and center_crop scale the smaller side to ``size``,
    border scales the larger side and pads to a square."""
    return frame(scale(image, size, mode), size, mode)


def scale(image: Image.Image, size: int, mode: ResizeMode) -> Image.Image:
    """The whole picture scaled for ``mode`` (no crop or border yet)."""
    w, h = image.size
    factor = size / (max(w, h) if mode is ResizeMode.BORDER else min(w, h))
    # Area averaging when shrinking (as OpenCV's INTER_AREA), bicubic when enlarging.
    method = Image.Resampling.BOX if factor < 1 else Image.Resampling.BICUBIC
    return image.resize(_scaled(w, h, factor), method)


def frame(scaled: Image.Image, size: int, mode: ResizeMode) -> Image.Image:
    """Crop (center_crop) or pad (border) a scaled picture to the thumbnail."""
    if mode is ResizeMode.BORDER:
        canvas = Image.new("RGB", (size, size), (255, 255, 255))
        canvas.paste(scaled, ((size - scaled.width) // 2, (size - scaled.height) // 2))
        return canvas
    if mode is ResizeMode.CENTER_CROP:
        left = (scaled.width - size) // 2
        top = (scaled.height - size) // 2
        return scaled.crop((left, top, left + size, top + size))
    return scaled


def _scale(width: int, height: int, options: ImageOptions) -> float:
    side = max(width, height) if options.resize_mode is ResizeMode.BORDER else min(width, height)
    return min(1.0, options.image_size / max(side, 1))


def _scaled(w: int, h: int, scale: float) -> tuple[int, int]:
    return max(1, round(w * scale)), max(1, round(h * scale))


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
