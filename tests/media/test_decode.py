"""Decode stage: orientation, bombs, truncation, resize modes, encodings, hashes."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from flightdeck.media.decode import decode_image
from flightdeck.media.errors import DocumentFailed, FailureReason
from flightdeck.media.hashing import hamming, perceptual_hash
from flightdeck.media.options import ImageOptions, ResizeMode
from tests.media.conftest import textured_jpeg


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (ResizeMode.KEEP_RATIO, (85, 64)),
        (ResizeMode.CENTER_CROP, (64, 64)),
        (ResizeMode.BORDER, (64, 64)),
    ],
)
def test_resize_modes(mode: ResizeMode, expected: tuple[int, int]) -> None:
    decoded = decode_image(textured_jpeg(1, (400, 300)), ImageOptions(64, mode))
    assert (decoded.width, decoded.height) == (400, 300)
    assert (decoded.thumbnail_width, decoded.thumbnail_height) == expected
    assert _open(decoded.thumbnail).size == expected


def test_border_mode_pads_with_white() -> None:
    decoded = decode_image(textured_jpeg(1, (400, 200)), ImageOptions(64, ResizeMode.BORDER))
    corner = _open(decoded.thumbnail).convert("RGB").getpixel((0, 0))
    assert isinstance(corner, tuple) and min(corner) > 240


def test_exif_orientation_is_honoured() -> None:
    image = Image.open(io.BytesIO(textured_jpeg(3, (400, 200))))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    decoded = decode_image(buffer.getvalue(), ImageOptions(64, ResizeMode.KEEP_RATIO))
    assert (decoded.width, decoded.height) == (200, 400)
    assert (decoded.thumbnail_width, decoded.thumbnail_height) == (64, 128)


def test_large_jpeg_is_decoded_at_reduced_size_with_same_result_size() -> None:
    decoded = decode_image(textured_jpeg(4, (2000, 1500)), ImageOptions(100))
    assert (decoded.width, decoded.height) == (2000, 1500)
    assert decoded.thumbnail_height == 100


def test_decompression_bomb_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("L", (3000, 3000)).save(buffer, format="PNG")
    with pytest.raises(DocumentFailed) as caught:
        decode_image(buffer.getvalue(), ImageOptions(max_pixels=1_000_000))
    assert caught.value.reason is FailureReason.DECOMPRESSION_BOMB


def test_truncated_file_is_refused() -> None:
    data = textured_jpeg(5, (400, 300))
    with pytest.raises(DocumentFailed) as caught:
        decode_image(data[: len(data) // 2], ImageOptions(64))
    assert caught.value.reason is FailureReason.TRUNCATED


def test_garbage_is_undecodable() -> None:
    with pytest.raises(DocumentFailed) as caught:
        decode_image(b"<html>not an image</html>", ImageOptions(64))
    assert caught.value.reason is FailureReason.UNDECODABLE


def test_png_with_alpha_and_webp_thumbnail() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (120, 80), (10, 20, 30, 0)).save(buffer, format="PNG")
    decoded = decode_image(buffer.getvalue(), ImageOptions(40, thumbnail_format="webp"))
    assert _open(decoded.thumbnail).format == "WEBP"
    assert decoded.thumbnail_height == 40


def test_perceptual_hash_is_close_for_reencoded_and_far_for_different_pictures() -> None:
    a = perceptual_hash(_open(textured_jpeg(7, (320, 240), quality=95)))
    a_small = perceptual_hash(_open(textured_jpeg(7, (160, 120), quality=40)))
    b = perceptual_hash(_open(textured_jpeg(8, (320, 240))))
    assert hamming(a, a_small) <= 4
    assert hamming(a, b) > 10
