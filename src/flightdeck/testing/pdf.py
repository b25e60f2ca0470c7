"""A tiny PDF writer for tests and benchmarks: text pages in Helvetica, or scanned pages.

A scanned page is what a scanner makes: one greyscale image of the page (here drawn with
Pillow's default font, Flate-compressed) and no text layer, so only OCR can read it.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection

from PIL import Image, ImageDraw, ImageFont

SCAN_SIZE = (1240, 1754)  # A4 at 150 dpi


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def scan_image(lines: list[str]) -> bytes:
    """Raw 8-bit greyscale pixels (``SCAN_SIZE``) of a page showing ``lines`` in black."""
    image = Image.new("L", SCAN_SIZE, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    for i, line in enumerate(lines):
        draw.text((120, 150 + 60 * i), line, fill=0, font=font)
    return image.tobytes()


def make_pdf(pages: list[list[str]], title: str = "", scanned: Collection[int] = ()) -> bytes:
    """A valid PDF whose page ``i`` shows the lines ``pages[i]`` (blank line = new paragraph);
    the pages whose index is in ``scanned`` are images of their lines, without a text layer."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, written once the pages are known
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for i, lines in enumerate(pages):
        if i in scanned:
            pixels = zlib.compress(scan_image(lines))
            width, height = SCAN_SIZE
            objects.append(
                f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} "
                f"/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode "
                f"/Length {len(pixels)} >>\nstream\n".encode()
                + pixels
                + b"\nendstream"
            )
            resources = f"/XObject << /Im1 {len(objects)} 0 R >>"
            stream = b"q 612 0 0 842 0 0 cm /Im1 Do Q"
        else:
            ops = ["BT", "/F1 11 Tf", "14 TL", "50 780 Td"]
            ops += [f"({_escape(line)}) Tj T*" for line in lines]
            ops.append("ET")
            resources = "/Font << /F1 3 0 R >>"
            stream = "\n".join(ops).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents {len(objects)} 0 R "
            f"/Resources << {resources} >> >>".encode()
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    info_id = len(objects) + 1
    objects.append(f"<< /Title ({_escape(title)}) >>".encode("latin-1"))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_id} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)
