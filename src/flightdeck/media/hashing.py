"""Content hashes: SHA-256 of the bytes (exact duplicates) and a 64-bit DCT perceptual hash."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import numpy.typing as npt

_SIDE = 32
_KEEP = 8
_FLAT = 4  # grey levels: a smaller range is a flat picture
_BITS = (1 << np.arange(63, -1, -1, dtype=np.uint64)).astype(np.uint64)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def perceptual_hash(pixels: npt.NDArray[np.uint8]) -> int | None:
    """pHash of an RGB array: 32x32 grey (area average), 2-D DCT, the 8x8 lowest frequencies
    against their median. None for a picture without structure (one flat grey level): every
    such picture would get the same hash, so only its SHA-256 can say it is a duplicate."""
    grey = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (_SIDE, _SIDE), interpolation=cv2.INTER_AREA)
    if int(small.max()) - int(small.min()) < _FLAT:
        return None
    low = cv2.dct(small.astype(np.float32))[:_KEEP, :_KEEP].ravel()
    bits = low > np.median(low)
    return int(np.bitwise_or.reduce(_BITS[bits], initial=np.uint64(0)))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def hamming_to_all(value: int, others: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Hamming distances from ``value`` to every hash in ``others``, vectorised."""
    distances: npt.NDArray[np.int64] = np.bitwise_count(others ^ np.uint64(value)).astype(np.int64)
    return distances
