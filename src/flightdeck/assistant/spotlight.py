"""Spotlighting of untrusted page text: fenced by a random boundary, and datamarked.

Datamarking prefixes every word of page text with ``^``, so the model can tell page words from
instructions even inside a long fence; the system prompt says marked text is data, never
instructions. The boundary is random per request, so a page cannot close the fence itself.
"""

from __future__ import annotations

import functools
import re
import secrets

from flightdeck.core.tokens import encoding

DATAMARK = "^"
_MARKED_WORD = re.compile(r"(?<!\S)\^(?=\S)")


def new_boundary() -> str:
    return secrets.token_hex(8)


def datamark(text: str) -> str:
    """One line of page text with every word marked: ``^every ^word ^marked``."""
    words = text.split()
    return DATAMARK + (" " + DATAMARK).join(words) if words else ""


def strip_datamarks(text: str) -> str:
    """Model output without datamarks it may have copied from the page."""
    return _MARKED_WORD.sub("", text)


def defang(text: str, boundary: str) -> str:
    """Page text that cannot contain the fence's boundary (vanishingly unlikely anyway)."""
    return text.replace(boundary, "[boundary removed]")


def marked_token_count(text: str) -> int:
    """``count_tokens(datamark(text))``, exactly, about three times faster.

    cl100k never merges across the space before a ``^``, so the count is a sum over words,
    and each word's count is cached (page text repeats its words a lot).
    """
    words = text.split()
    if not words:
        return 0
    return len(encoding().encode_ordinary(DATAMARK + words[0])) + sum(
        _marked_word_tokens(w) for w in words[1:]
    )


@functools.lru_cache(maxsize=100_000)
def _marked_word_tokens(word: str) -> int:
    return len(encoding().encode_ordinary(" " + DATAMARK + word))
