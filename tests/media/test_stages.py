"""prepare_records decodes small JPEGs on the event loop's thread and everything else in
decode threads, with the same rows either way."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from PIL import Image

from flightdeck.media import stages
from flightdeck.media.decode import DecodedImage
from flightdeck.media.options import FetchOptions, ImageOptions, IngestOptions
from flightdeck.media.sources import SourceRecord
from tests.media.conftest import textured_jpeg


def test_small_jpegs_decode_on_the_loop_the_rest_in_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = textured_jpeg(1, (320, 240))
    large = textured_jpeg(2, (1280, 960))
    png = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 200, 30)).save(png, format="PNG")
    files = {"small.jpg": small, "large.jpg": large, "flat.png": png.getvalue()}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    # Between the two JPEGs' sizes: the large one goes to a thread like the PNG.
    monkeypatch.setattr(stages, "INLINE_JPEG_BYTES", (len(small) + len(large)) // 2)
    decoded_on: dict[int, threading.Thread] = {}
    real_decode = stages.decode_image

    def spy(data: bytes, options: ImageOptions) -> DecodedImage:
        decoded_on[len(data)] = threading.current_thread()
        return real_decode(data, options)

    monkeypatch.setattr(stages, "decode_image", spy)
    records = [SourceRecord(i, str(tmp_path / name)) for i, name in enumerate(files)]

    options = IngestOptions(fetch=FetchOptions(local_paths=True))
    rows = stages.prepare_records(records, "key", options)

    assert [r["status"] for r in rows] == ["ok", "ok", "ok"], [r.get("error") for r in rows]
    assert [r["input_index"] for r in rows] == [0, 1, 2]
    assert [(r["width"], r["height"]) for r in rows] == [(320, 240), (1280, 960), (300, 200)]
    on_loop = {
        name for name, data in files.items() if decoded_on[len(data)] is threading.main_thread()
    }
    assert on_loop == {"small.jpg"}
