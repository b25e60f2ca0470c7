"""Real inputs for the media tests: generated images and video, and an HTTP server on loopback."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def textured_jpeg(seed: int, size: tuple[int, int] = (320, 240), quality: int = 90) -> bytes:
    """A JPEG whose picture differs per seed (smooth random blobs, so pHashes differ)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@dataclass
class ServedFiles:
    """What the test server answers; tests add routes before fetching."""

    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    slow: set[str] = field(default_factory=set)
    delay_s: float = 0.0
    hits: dict[str, int] = field(default_factory=dict)
    base: str = ""

    def add(
        self,
        path: str,
        body: bytes,
        content_type: str = "image/jpeg",
        status: int = 200,
        **headers: str,
    ) -> str:
        self.routes[path] = (status, {"Content-Type": content_type, **headers}, body)
        return self.base + path


class _Handler(BaseHTTPRequestHandler):
    served: ServedFiles

    def do_GET(self) -> None:
        served = self.served
        served.hits[self.path] = served.hits.get(self.path, 0) + 1
        if self.path in served.slow:
            time.sleep(2.0)
        elif served.delay_s:
            time.sleep(served.delay_s)
        status, headers, body = served.routes.get(self.path, (404, {}, b"missing"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_files() -> Iterator[ServedFiles]:
    served = ServedFiles()
    handler = type("Handler", (_Handler,), {"served": served})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    served.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served
    server.shutdown()
    server.server_close()


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(5):
        (folder / f"img{i}.jpg").write_bytes(textured_jpeg(i))
    return folder
