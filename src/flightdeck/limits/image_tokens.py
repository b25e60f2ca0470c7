"""Prompt tokens of an image part, by OpenAI's documented tile rule.

Source: OpenAI's vision guide ("Calculating costs", GPT-4o / GPT-4 Turbo family): an image with
``detail: "low"`` costs 85 tokens. Otherwise it is scaled to fit within 2048 x 2048, then its
shortest side to 768 px, and costs 85 + 170 per 512 px tile of the result. An image whose size
cannot be read here (a remote URL, an undecodable data URL) is counted at the most the rule
allows, 8 tiles (1,445 tokens), so a reservation never undercounts it.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from typing import Any

from PIL import Image, UnidentifiedImageError

BASE_TOKENS = 85
TILE_TOKENS = 170
TILE_PX = 512
MOST_TOKENS = BASE_TOKENS + TILE_TOKENS * 8


def tile_tokens(width: int, height: int, detail: str = "auto") -> int:
    """Tokens of a ``width`` x ``height`` px image at ``detail`` (``low``, ``high``, ``auto``)."""
    if detail == "low":
        return BASE_TOKENS
    w, h = float(width), float(height)
    if max(w, h) > 2048:
        scale = 2048 / max(w, h)
        w, h = w * scale, h * scale
    if min(w, h) > 768:
        scale = 768 / min(w, h)
        w, h = w * scale, h * scale
    tiles = math.ceil(w / TILE_PX) * math.ceil(h / TILE_PX)
    return BASE_TOKENS + TILE_TOKENS * tiles


def image_part_tokens(part: dict[str, Any]) -> int:
    """Tokens of a chat ``image_url`` part: its size read from a ``data:`` URL's image header,
    else the most the rule allows."""
    image = part.get("image_url")
    if isinstance(image, str):
        image = {"url": image}
    if not isinstance(image, dict):
        return MOST_TOKENS
    detail = str(image.get("detail") or "auto")
    if detail == "low":
        return BASE_TOKENS
    size = data_url_size(str(image.get("url") or ""))
    return tile_tokens(*size, detail) if size is not None else MOST_TOKENS


def data_url_size(url: str) -> tuple[int, int] | None:
    """(width, height) of the image in a base64 ``data:`` URL, reading only its header."""
    if not url.startswith("data:") or ";base64," not in url:
        return None
    try:
        raw = base64.b64decode(url.split(";base64,", 1)[1], validate=False)
        with Image.open(io.BytesIO(raw)) as img:
            width, height = img.size
    except (
        binascii.Error,
        ValueError,
        OSError,
        UnidentifiedImageError,
        Image.DecompressionBombError,
    ):
        return None
    return (width, height) if width > 0 and height > 0 else None
