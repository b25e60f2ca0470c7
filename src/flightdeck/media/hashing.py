"""Content hashes: SHA-256 of the bytes (exact duplicates) and a 64-bit DCT perceptual hash."""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
from PIL import Image

_SIDE = 32
_KEEP = 8


def _dct_matrix(n: int) -> npt.NDArray[np.float64]:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix: npt.NDArray[np.float64] = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    matrix[0, :] = np.sqrt(1.0 / n)
    return matrix


_DCT = _dct_matrix(_SIDE)
_BITS = (1 << np.arange(63, -1, -1, dtype=np.uint64)).astype(np.uint64)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def perceptual_hash(image: Image.Image) -> int:
    """pHash: 32x32 grey, 2-D DCT, the 8x8 lowest frequencies against their median."""
    grey = image.convert("L").resize((_SIDE, _SIDE), Image.Resampling.BILINEAR)
    pixels = np.asarray(grey, dtype=np.float64)
    low = (_DCT @ pixels @ _DCT.T)[:_KEEP, :_KEEP].ravel()
    bits = low > np.median(low)
    return int(np.bitwise_or.reduce(_BITS[bits], initial=np.uint64(0)))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def hamming_to_all(value: int, others: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Hamming distances from ``value`` to every hash in ``others``, vectorised."""
    distances: npt.NDArray[np.int64] = np.bitwise_count(others ^ np.uint64(value)).astype(np.int64)
    return distances
