"""Decode stage: orientation, bombs, truncation, resize modes, encodings, hashes."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageOps

from flightdeck.media.decode import DecodedImage, decode_image
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


def _pixels(data: bytes) -> npt.NDArray[np.uint8]:
    return np.asarray(_open(data).convert("RGB"))


def test_perceptual_hash_is_close_for_reencoded_and_far_for_different_pictures() -> None:
    a = perceptual_hash(_pixels(textured_jpeg(7, (320, 240), quality=95)))
    a_small = perceptual_hash(_pixels(textured_jpeg(7, (160, 120), quality=40)))
    b = perceptual_hash(_pixels(textured_jpeg(8, (320, 240))))
    assert hamming(a, a_small) <= 4
    assert hamming(a, b) > 10


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _thumb_pixels(decoded: DecodedImage) -> npt.NDArray[np.float64]:
    return np.asarray(_open(decoded.thumbnail).convert("RGB"), dtype=np.float64)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillows_upright_picture(orientation: int) -> None:
    """The JPEG fast path turns pixels upright itself; Pillow's exif_transpose is the truth."""
    stored = Image.open(io.BytesIO(textured_jpeg(9, (480, 240))))
    exif = stored.getexif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(buffer.getvalue())))
    options = ImageOptions(60, ResizeMode.KEEP_RATIO)
    fast = decode_image(buffer.getvalue(), options)
    truth = decode_image(_png(upright), options)  # PNG: the Pillow path, no orientation
    assert (fast.width, fast.height) == upright.size
    assert (fast.thumbnail_width, fast.thumbnail_height) == (
        truth.thumbnail_width,
        truth.thumbnail_height,
    )
    assert np.abs(_thumb_pixels(fast) - _thumb_pixels(truth)).mean() < 6
    assert hamming(fast.phash, truth.phash) <= 4


@pytest.mark.parametrize("mode", list(ResizeMode))
def test_jpeg_fast_path_agrees_with_the_pillow_path(mode: ResizeMode) -> None:
    """A large JPEG (decoded at a reduced DCT scale) and the same picture as a PNG (decoded
    whole by Pillow) give the same thumbnail geometry and nearly the same pixels and pHash."""
    data = textured_jpeg(11, (1900, 1300), quality=95)
    options = ImageOptions(128, mode)
    fast = decode_image(data, options)
    whole = decode_image(_png(Image.open(io.BytesIO(data))), options)
    assert (fast.thumbnail_width, fast.thumbnail_height) == (
        whole.thumbnail_width,
        whole.thumbnail_height,
    )
    assert np.abs(_thumb_pixels(fast) - _thumb_pixels(whole)).mean() < 6
    assert hamming(fast.phash, whole.phash) <= 4


@pytest.mark.parametrize("mode", ["L", "CMYK"])
def test_grey_and_cmyk_jpegs_are_decoded(mode: str) -> None:
    picture = Image.open(io.BytesIO(textured_jpeg(12, (300, 200)))).convert(mode)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=90)
    decoded = decode_image(buffer.getvalue(), ImageOptions(50))
    assert (decoded.thumbnail_width, decoded.thumbnail_height) == (75, 50)
    colour = _thumb_pixels(decoded).mean(axis=(0, 1))
    expected = np.asarray(picture.convert("RGB").resize((75, 50)), dtype=np.float64)
    assert np.abs(colour - expected.mean(axis=(0, 1))).max() < 8


def test_flat_pictures_have_no_perceptual_hash() -> None:
    red = np.full((40, 60, 3), (200, 0, 0), dtype=np.uint8)
    blue = np.full((40, 60, 3), (0, 0, 230), dtype=np.uint8)
    assert perceptual_hash(red) is None and perceptual_hash(blue) is None
    gradient = np.repeat(np.linspace(0, 255, 60, dtype=np.uint8)[None, :, None], 40, 0)
    assert perceptual_hash(np.repeat(gradient, 3, 2)) is not None
