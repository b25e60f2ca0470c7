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
    """Page text with every word marked (``^every ^word ^marked``), its lines kept.

    Whitespace inside a line becomes one space; line breaks stay (a blank line stays one blank
    line), so headings and list items remain lines of their own instead of running into the
    next sentence.
    """
    return "\n".join(
        DATAMARK + (" " + DATAMARK).join(words) if words else "" for words in _lines_of_words(text)
    )


def strip_datamarks(text: str) -> str:
    """Model output without datamarks it may have copied from the page."""
    return _MARKED_WORD.sub("", text)


def defang(text: str, boundary: str) -> str:
    """Page text that cannot contain the fence's boundary (vanishingly unlikely anyway)."""
    return text.replace(boundary, "[boundary removed]")


def marked_token_count(text: str) -> int:
    """``count_tokens(datamark(text))``, exactly, about three times faster.

    cl100k's pre-tokenizer never joins a piece across the space before a ``^`` nor across the
    line break before one, so the count is a sum over words; a line's last word is counted with
    the line breaks after it (they may join its final punctuation). Counts are cached per word.
    """
    lines = _lines_of_words(text)
    total = 0
    for i, words in enumerate(lines):
        if not words:
            continue
        breaks = 0
        for later in lines[i + 1 :]:
            breaks += 1
            if later:
                break
        else:
            breaks = 0  # no word follows: datamark() leaves no trailing line break
        last = len(words) - 1
        for k, word in enumerate(words):
            total += _marked_word_tokens(word, k == 0, breaks if k == last else 0)
    return total


def _lines_of_words(text: str) -> list[list[str]]:
    """The words of each line, without leading or trailing blank lines; blank lines in between
    are kept (as empty lists) but never two in a row."""
    lines: list[list[str]] = []
    for line in text.splitlines():
        words = line.split()
        if words or (lines and lines[-1]):
            lines.append(words)
    while lines and not lines[-1]:
        lines.pop()
    return lines


@functools.lru_cache(maxsize=100_000)
def _marked_word_tokens(word: str, first_on_line: bool, breaks: int) -> int:
    prefix = DATAMARK if first_on_line else " " + DATAMARK
    return len(encoding().encode_ordinary(prefix + word + "\n" * breaks))
