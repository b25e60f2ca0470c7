"""Spotlighting of untrusted page text: fenced by a random boundary, and datamarked.

Datamarking prefixes every word of page text with ``^``, so the model can tell page words from
instructions even inside a long fence; the system prompt says marked text is data, never
instructions. The boundary is random per request, so a page cannot close the fence itself.
"""

from __future__ import annotations

import re
import secrets

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
