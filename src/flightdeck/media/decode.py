"""Decode stage: bytes to a normalised thumbnail, refusing bombs and truncated files.

Pillow reads the header of every image (size, format, EXIF orientation) and refuses
decompression bombs before any pixel is decoded. Colour JPEGs, nearly every image on the web,
then take the fast path: libjpeg-turbo (simplejpeg) decodes straight to the smallest M/8
scale that still covers the thumbnail, so a 2,000 px photo is never decoded at full size, and
OpenCV does the rest of the resize on that array. Other formats, CMYK JPEGs and every JPEG
libjpeg-turbo refuses go through Pillow, which names the failure (truncated, undecodable).
Both paths meet at :func:`thumbnail_of`: resize, EXIF orientation, pHash, crop or border, encode.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import simplejpeg
from PIL import Image, UnidentifiedImageError

from flightdeck.media.errors import DocumentFailed, FailureReason
from flightdeck.media.hashing import perceptual_hash, sha256_hex
from flightdeck.media.options import ImageOptions, ResizeMode

Pixels = npt.NDArray[np.uint8]  # height x width x 3, RGB

# Workers already run several decodes at once; OpenCV's own thread pool would only contend.
cv2.setNumThreads(1)

_ORIENTATION_TAG = 0x0112
_ROTATED = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
# EXIF orientation -> what turns the stored pixels upright (as ImageOps.exif_transpose).
_UPRIGHT: dict[int, Callable[[Pixels], Pixels]] = {
    2: lambda p: p[:, ::-1],
    3: lambda p: p[::-1, ::-1],
    4: lambda p: p[::-1],
    5: lambda p: p.transpose(1, 0, 2),
    6: lambda p: np.rot90(p, -1),
    7: lambda p: p[::-1, ::-1].transpose(1, 0, 2),
    8: lambda p: np.rot90(p, 1),
}
# Below this ratio a two-tap bilinear resize would alias; area averaging is used instead.
_LINEAR_MIN_RATIO = 0.75
_WHITE = 255


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """What the rest of the pipeline keeps of an image."""

    width: int  # of the original, upright
    height: int
    sha256: str  # of the original bytes
    phash: int | None  # None for a flat picture
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
            pixels = _jpeg_pixels(data, width, height, options) if _fast_jpeg(image) else None
            if pixels is None:
                pixels = _pillow_pixels(image, width, height, options)
    except DocumentFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DocumentFailed(FailureReason.DECOMPRESSION_BOMB, str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise DocumentFailed(FailureReason.UNDECODABLE, "not an image Pillow can read") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        reason = FailureReason.TRUNCATED if "truncated" in str(exc) else FailureReason.UNDECODABLE
        raise DocumentFailed(reason, str(exc)) from exc
    return thumbnail_of(pixels, width, height, orientation, sha256_hex(data), options)


def thumbnail_of(
    pixels: Pixels,
    width: int,
    height: int,
    orientation: int,
    sha256: str,
    options: ImageOptions,
) -> DecodedImage:
    """The thumbnail of a picture stored ``width`` x ``height`` (before EXIF ``orientation``),
    whose ``pixels`` may already be reduced: resize by ``options``, turn upright, hash, crop
    or pad, encode."""
    scaled = resize_to(pixels, scaled_size(width, height, options))
    if orientation in _UPRIGHT:
        scaled = np.ascontiguousarray(_UPRIGHT[orientation](scaled))
    if orientation in _ROTATED:
        width, height = height, width
    phash = perceptual_hash(scaled)  # the whole picture, before any crop or border
    thumb = frame(scaled, options.image_size, options.resize_mode)
    if options.thumbnail_format == "webp":
        buffer = io.BytesIO()
        Image.fromarray(thumb).save(buffer, format="WEBP", quality=options.thumbnail_quality)
        encoded = buffer.getvalue()
    else:
        encoded = simplejpeg.encode_jpeg(
            thumb, quality=options.thumbnail_quality, colorsubsampling="420", fastdct=False
        )
    thumb_height, thumb_width = thumb.shape[:2]
    return DecodedImage(width, height, sha256, phash, encoded, thumb_width, thumb_height)


def scaled_size(width: int, height: int, options: ImageOptions) -> tuple[int, int]:
    """The whole picture's size for the resize mode, before any crop or border: keep_ratio and
    center_crop scale the smaller side to ``image_size``, border the larger side."""
    side = max(width, height) if options.resize_mode is ResizeMode.BORDER else min(width, height)
    factor = options.image_size / max(side, 1)
    return max(1, round(width * factor)), max(1, round(height * factor))


def resize_to(pixels: Pixels, size: tuple[int, int]) -> Pixels:
    """``pixels`` resized to ``size`` (width, height): bilinear for small reductions (the
    JPEG path already reduced by up to 8x in the DCT), area averaging for larger ones, bicubic
    when enlarging."""
    height, width = pixels.shape[:2]
    if (width, height) == size:
        return pixels
    ratio = min(size[0] / width, size[1] / height)
    if ratio > 1:
        method = cv2.INTER_CUBIC
    elif ratio >= _LINEAR_MIN_RATIO:
        method = cv2.INTER_LINEAR
    else:
        method = cv2.INTER_AREA
    return cv2.resize(pixels, size, interpolation=method).astype(np.uint8, copy=False)


def frame(scaled: Pixels, size: int, mode: ResizeMode) -> Pixels:
    """Crop (center_crop) or pad with white (border) a scaled picture to the thumbnail."""
    height, width = scaled.shape[:2]
    if mode is ResizeMode.BORDER:
        canvas = np.full((size, size, 3), _WHITE, dtype=np.uint8)
        top, left = (size - height) // 2, (size - width) // 2
        canvas[top : top + height, left : left + width] = scaled[:size, :size]
        return canvas
    if mode is ResizeMode.CENTER_CROP:
        top, left = (height - size) // 2, (width - size) // 2
        return np.ascontiguousarray(scaled[top : top + size, left : left + size])
    return scaled


def _fast_jpeg(image: Image.Image) -> bool:
    return image.format == "JPEG" and image.mode in ("RGB", "L")


def _jpeg_pixels(data: bytes, width: int, height: int, options: ImageOptions) -> Pixels | None:
    """libjpeg-turbo at the smallest M/8 scale covering the thumbnail; None when it refuses
    the file (Pillow then decodes it, or says why it cannot)."""
    target_width, target_height = scaled_size(width, height, options)
    try:
        pixels: Pixels = simplejpeg.decode_jpeg(
            data,
            colorspace="RGB",
            fastdct=True,
            fastupsample=True,
            min_width=min(target_width, width),
            min_height=min(target_height, height),
        )
    except ValueError:
        return None
    return pixels


def _pillow_pixels(image: Image.Image, width: int, height: int, options: ImageOptions) -> Pixels:
    if image.format == "JPEG":  # CMYK, or refused by libjpeg-turbo: Pillow's DCT scaling
        target_width, target_height = scaled_size(width, height, options)
        scale = min(1.0, max(target_width / width, target_height / height))
        image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
    image.load()
    rgb = image if image.mode == "RGB" else _to_rgb(image)
    return np.asarray(rgb)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (_WHITE, _WHITE, _WHITE))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
