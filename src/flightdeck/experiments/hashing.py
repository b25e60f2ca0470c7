"""GrowthBook-compatible hashing of units into [0, 1).

GrowthBook's SDK specification (``packages/sdk-js/src/util.ts`` in github.com/growthbook/growthbook,
checked against its cross-SDK ``cases.json``):

- FNV-1a 32-bit over the UTF-16 code units of a string (the JS SDK's ``charCodeAt`` loop);
- version 1: ``fnv1a32(value + seed) % 1000 / 1000``;
- version 2: ``fnv1a32(str(fnv1a32(seed + value))) % 10000 / 10000`` (no bias on similar seeds).

:func:`hash_many` is the same function over a NumPy array of units, for bulk checks (a sample
ratio re-check, simulations); it returns exactly what :func:`gb_hash` returns for each unit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
HASH_VERSIONS = (1, 2)


def fnv1a32(text: str) -> int:
    """FNV-1a 32-bit hash of ``text``'s UTF-16 code units, an int in [0, 2**32)."""
    value = FNV_OFFSET
    for unit in _utf16_units(text):
        value = ((value ^ unit) * FNV_PRIME) & 0xFFFFFFFF
    return value


def gb_hash(seed: str, value: str, version: int) -> float | None:
    """GrowthBook's bucket of ``value`` under ``seed``: a float in [0, 1), or None for an
    unknown ``version`` (GrowthBook skips the experiment then)."""
    if version == 2:
        return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000
    if version == 1:
        return (fnv1a32(value + seed) % 1000) / 1000
    return None


def hash_many(seed: str, values: Sequence[str], version: int) -> NDArray[np.float64]:
    """:func:`gb_hash` of each of ``values`` (shape ``(len(values),)``), vectorised.

    Raises ValueError for an unknown ``version``."""
    if version not in HASH_VERSIONS:
        raise ValueError(f"unknown hash version {version}; GrowthBook has 1 and 2")
    if version == 2:
        first = _fnv_many(values, prefix=seed, suffix="")
        second = _fnv_decimal(first)
        return (second % 10000).astype(np.float64) / 10000
    return (_fnv_many(values, prefix="", suffix=seed) % 1000).astype(np.float64) / 1000


def _utf16_units(text: str) -> list[int]:
    if text.isascii():
        return list(text.encode())
    data = text.encode("utf-16-le", "surrogatepass")
    return [data[i] | (data[i + 1] << 8) for i in range(0, len(data), 2)]


def _fnv_decimal(numbers: NDArray[np.uint32]) -> NDArray[np.uint32]:
    """FNV-1a of each number's decimal digits (``str(n)``), digit by digit in NumPy."""
    out = np.full(len(numbers), FNV_OFFSET, dtype=np.uint32)
    wide = numbers.astype(np.int64)
    prime = np.uint32(FNV_PRIME)
    for power in range(9, -1, -1):  # 2**32 has 10 digits
        scale = 10**power
        digit = ((wide // scale) % 10 + ord("0")).astype(np.uint32)
        mixed = (out ^ digit) * prime
        out = np.where((wide >= scale) | (power == 0), mixed, out)
    return out


def _fnv_many(
    values: Sequence[str] | NDArray[np.str_], *, prefix: str, suffix: str
) -> NDArray[np.uint32]:
    """FNV-1a of ``prefix + value + suffix`` for every value. Values that numpy's fixed-width
    strings cannot carry exactly (astral characters, NUL) are hashed one by one."""
    start = FNV_OFFSET
    for unit in _utf16_units(prefix):
        start = ((start ^ unit) * FNV_PRIME) & 0xFFFFFFFF
    out = np.full(len(values), start, dtype=np.uint32)
    if not len(values):
        return out
    text = np.asarray(values, dtype=np.str_)
    lengths = np.char.str_len(text)
    width = text.dtype.itemsize // 4
    codes = text.view(np.uint32).reshape(len(values), width) if width else None
    prime = np.uint32(FNV_PRIME)
    for pos in range(width):
        assert codes is not None
        active = lengths > pos
        mixed = (out ^ codes[:, pos]) * prime  # uint32 arithmetic wraps modulo 2**32
        out = np.where(active, mixed, out)
    for unit in _utf16_units(suffix):
        out = (out ^ np.uint32(unit)) * prime
    if codes is not None and not isinstance(values, np.ndarray):
        exact = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        odd = (codes > 0xFFFF).any(axis=1) | (lengths != exact)
        for i in np.flatnonzero(odd):
            out[i] = fnv1a32(prefix + values[int(i)] + suffix)
    return out
