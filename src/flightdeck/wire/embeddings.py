"""Embeddings options delivered whatever the upstream did with them.

OpenAI's embeddings API takes ``encoding_format`` (``"float"``, the default, or ``"base64"``:
the little-endian float32 bytes of each vector, base64-encoded, which the official SDKs ask for
by default) and ``dimensions`` (a shorter vector). Many OpenAI-compatible servers ignore both.
``conform_embeddings`` makes the reply what the client asked for:

- the vector format is converted either way (a float list becomes base64, base64 is decoded);
- a vector longer than ``dimensions`` is cut and renormalised to unit length only for models
  the configuration marks as Matryoshka-trained (``options.matryoshka = true``: the first
  dimensions carry the meaning); otherwise the reply is refused with a 400 saying the model
  does not support ``dimensions``, because a cut vector of another model is not an embedding.

``check_embeddings_options`` refuses a bad ``encoding_format`` or ``dimensions`` (400) before
any upstream is called.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import numpy as np

from flightdeck.core.errors import InvalidRequest, InvalidUpstreamReply, UpstreamError

ENCODINGS = ("float", "base64")


def check_embeddings_options(body: dict[str, Any]) -> None:
    """InvalidRequest (400) naming the field when ``encoding_format`` or ``dimensions`` is
    not one OpenAI's API accepts."""
    fmt = body.get("encoding_format")
    if fmt is not None and fmt not in ENCODINGS:
        raise InvalidRequest(
            f"'encoding_format' must be 'float' or 'base64', got {str(fmt)[:40]!r}",
            param="encoding_format",
        )
    dims = body.get("dimensions")
    if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or dims < 1):
        raise InvalidRequest("'dimensions' must be a positive integer", param="dimensions")


def conform_embeddings(
    reply: dict[str, Any], body: dict[str, Any], *, matryoshka: bool = False, model: str = ""
) -> bool:
    """Rewrite ``reply['data'][*]['embedding']`` in place to the request's ``encoding_format``
    and ``dimensions``; True when anything changed.

    Raises UpstreamError 400 (``dimensions_not_supported``) when the upstream ignored
    ``dimensions`` and the model is not Matryoshka, and InvalidUpstreamReply when a base64
    vector does not decode to float32s.
    """
    want = body.get("encoding_format") or "float"
    dims = body.get("dimensions")
    changed = False
    for item in reply["data"]:
        vector = item["embedding"]
        size = _size(vector)
        if isinstance(dims, int) and size != dims:
            if size < dims or not matryoshka:
                raise UpstreamError(
                    f"the model `{model}` returned {size}-dimensional embeddings and does not "
                    f"support 'dimensions' ({dims} asked); leave 'dimensions' out",
                    status=400,
                    upstream_status=400,
                    error_type="invalid_request_error",
                    code="dimensions_not_supported",
                )
            vector = _shorten(_floats(vector), dims)
            changed = True
        if want == "base64" and not isinstance(vector, str):
            vector = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
            changed = True
        elif want == "float" and not isinstance(vector, list):
            vector = [float(x) for x in _floats(vector)]
            changed = True
        item["embedding"] = vector
    return changed


def _size(vector: list[float] | str) -> int:
    if isinstance(vector, list):
        return len(vector)
    return len(_floats(vector))


def _floats(vector: list[float] | str | np.ndarray) -> np.ndarray:
    if not isinstance(vector, str):
        return np.asarray(vector, dtype=np.float32)
    try:
        raw = base64.b64decode(vector, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidUpstreamReply("upstream sent an embedding that is not valid base64") from None
    if len(raw) % 4:
        raise InvalidUpstreamReply("upstream sent a base64 embedding that is not float32s")
    return np.frombuffer(raw, dtype="<f4")


def _shorten(vector: np.ndarray, dims: int) -> np.ndarray:
    cut = np.array(vector[:dims], dtype=np.float32)
    norm = float(np.linalg.norm(cut))
    if norm > 0 and math.isfinite(norm):
        cut /= norm
    return cut
