"""Photo-like JPEGs of 0.3 to 2 megapixels, generated once and cached."""

from __future__ import annotations

import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter


def make_photo(path: Path, seed: int) -> None:
    """Smooth colour fields plus grain and edges: compresses like a photo (~0.1-0.5 MB)."""
    rng = np.random.default_rng(seed)
    megapixels = random.Random(seed).uniform(0.3, 2.0)
    ratio = random.Random(seed + 1).choice([4 / 3, 3 / 2, 16 / 9, 1.0, 3 / 4, 2 / 3])
    height = int((megapixels * 1e6 / ratio) ** 0.5)
    width = int(height * ratio)
    base = Image.fromarray(rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    grain = rng.normal(0, 14, (height, width, 3))
    pixels = np.clip(np.asarray(base, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels).filter(ImageFilter.SMOOTH)
    image.save(path, format="JPEG", quality=88)


def ensure_photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"photo{i:05d}.jpg" for i in range(count)]
    missing = [(p, i) for i, p in enumerate(paths) if not p.exists()]
    if missing:
        with ProcessPoolExecutor() as pool:
            list(
                pool.map(make_photo, [p for p, _ in missing], [i for _, i in missing], chunksize=16)
            )
    return paths
