"""OCR of scanned PDF pages with the Tesseract command-line program, when it is installed.

Tesseract (github.com/tesseract-ocr/tesseract, Apache-2.0; Debian/Ubuntu:
``apt-get install tesseract-ocr``, other languages ``tesseract-ocr-<lang>``) reads a PNG on
stdin and writes plain text to stdout (``tesseract stdin stdout -l eng``). It is optional:
without it a page without a text layer is reported as unreadable, never silently dropped.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from flightdeck.core.settings import AssistantSettings

INSTALL_HINT = "install Tesseract to read scans (apt-get install tesseract-ocr)"
NO_ENGINE = f"no OCR engine is installed: {INSTALL_HINT}"


class OcrFailed(Exception):
    """Tesseract could not read an image; the message says why (one line)."""


@dataclass(frozen=True, slots=True)
class OcrEngine:
    """How to run Tesseract: its path, languages (``eng+deu``), time and page limits."""

    binary: str
    languages: str = "eng"
    timeout_seconds: float = 60.0
    max_pages: int = 10  # per PDF: OCR costs about a second per page

    def read(self, images: Sequence[Image.Image]) -> str:
        """The text of the images, in order (one paragraph per image); raises OcrFailed."""
        texts = []
        for image in images:
            png = io.BytesIO()
            image.convert("L").save(png, format="PNG")
            try:
                # The program is the configured ocr_command; the languages are validated.
                done = subprocess.run(  # noqa: S603
                    [self.binary, "stdin", "stdout", "-l", self.languages],
                    input=png.getvalue(),
                    capture_output=True,
                    timeout=self.timeout_seconds,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise OcrFailed(f"OCR took longer than {self.timeout_seconds:g} s") from None
            except OSError as exc:
                raise OcrFailed(f"OCR could not start ({exc.strerror})") from None
            if done.returncode != 0:
                detail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
                raise OcrFailed(f"OCR failed: {detail[0][:200]}")
            texts.append(done.stdout.decode(errors="replace").strip())
        return "\n\n".join(t for t in texts if t)


def find_ocr(settings: AssistantSettings) -> tuple[OcrEngine | None, str]:
    """The OCR engine the settings ask for, or (None, why there is none): OCR is off, or
    ``ocr_command`` is not installed."""
    if not settings.ocr:
        return None, "OCR is off ([assistant] ocr = false)"
    binary = shutil.which(settings.ocr_command)
    if binary is None:
        return None, NO_ENGINE
    engine = OcrEngine(
        binary, settings.ocr_languages, settings.ocr_timeout_seconds, settings.ocr_max_pages
    )
    return engine, ""
