"""Sentence boundaries that know abbreviations, numbers and the full stops of CJK scripts.

``sentencex`` (Wikimedia's segmenter: per-language abbreviation lists and terminators for about
300 languages, falling back along language families) finds the boundaries: "Dr. Smith", "U.S.",
"3.5" and "e.g." do not end a sentence, and the CJK full stops (U+3002, U+FF01, U+FF1F) do.
A line break also ends a sentence here, because a line of its own is a heading, a list item or
a table row, never half a sentence.
"""

from __future__ import annotations

import re

import sentencex

# Thai, Lao, Khmer and Myanmar have no full stop: a space between two words of theirs ends a
# sentence or clause (the Thai Royal Institute's spacing rules).
_CLAUSE_SPACE = re.compile(
    r"(?<=[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff])\s+(?=[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff])"
)


def sentence_spans(text: str, language: str = "en") -> list[tuple[int, int]]:
    """(start, end) character offsets of the sentences of ``text``, whitespace trimmed.

    ``language`` is an ISO 639 code (an unknown or empty one means English rules).
    """
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        if line.strip():
            for b in sentencex.get_sentence_boundaries(language or "en", line):
                for start, end in _clauses(line, int(b["start_index"]), int(b["end_index"])):
                    spans.append((offset + start, offset + end))
        offset += len(line) + 1
    return spans


def sentences(text: str, language: str = "en") -> list[str]:
    """The sentences of ``text`` (see ``sentence_spans``)."""
    return [text[s:e] for s, e in sentence_spans(text, language)]


def _clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The trimmed, non-empty pieces of ``text[start:end]``, cut at Thai-style clause spaces."""
    pieces = []
    for m in _CLAUSE_SPACE.finditer(text, start, end):
        pieces.append(_trim(text, start, m.start()))
        start = m.end()
    pieces.append(_trim(text, start, end))
    return [(s, e) for s, e in pieces if s < e]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
