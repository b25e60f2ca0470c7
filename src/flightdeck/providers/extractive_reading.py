"""How the extractive model reads its context: numbered passages, pages, headings, sentences.

A context is the text of the messages before the question. Paragraphs that begin with ``[n]``
are the sources; a passage runs on over its following lines while they are page text and ends
at the first line that is not: with datamarked passages (every word ``^marked``, the
assistant's spotlighting) an unmarked line, otherwise a markup or fence line such as
``</page-1>`` or ``<<<END PAGES ...>>>``. So the prompt's own structure is never quoted.
``<page-N>`` or ``<page number="N" ...>`` lines group passages by page (compare mode). A short
line without final punctuation is a heading when it opens its passage (the assistant starts a
passage at each heading) or when prose follows it; it titles the sentences below it and is never
quoted. Short lines followed by more short lines are list items, quoted like sentences.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from flightdeck.text.language import detect_language
from flightdeck.text.sentences import sentence_spans
from flightdeck.text.terms import is_unspaced, terms

_MARKER = re.compile(r"^\s*\[(\d{1,6})\]\s*")
_PAGE_OPEN = re.compile(r"^<page(?:-|\s+number=[\"']?)(\d{1,4})\b")
_MARKUP = re.compile(r"^(?:</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>|<{2,}[^<>]*>{2,})$")
_MARKED_WORD = re.compile(r"(?<!\S)\^(?=\S)")
# "[3]" in page text is the page's own footnote; quoted, it would pass for a citation.
_FOOTNOTE = re.compile(r"\[\d{1,4}\]")
_HEADING_MAX_CHARS = 80
_FINAL_PUNCTUATION = tuple(".!?:;,\"')]\u3002\uff01\uff1f\u2026")
MIN_TERMS = 2  # shorter sentences ("Yes!", "Thanks.") are not worth quoting
MIN_UNSPACED_CHARS = 6  # the same for scripts without spaces (about three words of Chinese)


@dataclass(frozen=True, slots=True)
class Sentence:
    """A quotable sentence: its text (marks removed), its ``[n]`` passage, page and heading."""

    text: str
    passage: int | None
    page: int
    heading: str
    position: int  # order in the context
    section: int  # index of its section (a heading, or a passage when no heading is known)
    first: bool  # the first sentence of its section
    terms: Counter[str]
    item: bool = False  # a list item (a short line without final punctuation)
    title: str = ""  # the first heading of its page: what the whole page is about


@dataclass(slots=True)
class _Line:
    text: str
    passage: int | None
    page: int


def read_context(context: str) -> list[Sentence]:
    """Every quotable sentence of the context, in order; only numbered passages if it has any."""
    lines = _lines(context)
    if any(line.passage is not None for line in lines):
        lines = [line for line in lines if line.passage is not None]
    language = detect_language(" ".join(line.text for line in lines[:200])) or "en"
    sentences: list[Sentence] = []
    heading = ""
    section = -1
    first = True
    titles: dict[int, str] = {}
    for i, line in enumerate(lines):
        opens = i == 0 or (lines[i - 1].passage, lines[i - 1].page) != (line.passage, line.page)
        if opens:
            heading, section, first = "", section + 1, True
        following = lines[i + 1] if i + 1 < len(lines) else None
        titles_prose = (
            following is not None
            and following.passage == line.passage
            and not _is_heading(following.text)
        )
        if _is_heading(line.text) and (opens or titles_prose):
            heading, section, first = line.text, section + (0 if opens else 1), True
            titles.setdefault(line.page, line.text)
            continue
        for start, end in sentence_spans(line.text, language):
            text = line.text[start:end]
            counts = Counter(terms(text))
            if _quotable(text, counts):
                sentences.append(
                    Sentence(
                        text,
                        line.passage,
                        line.page,
                        heading,
                        len(sentences),
                        section,
                        first,
                        counts,
                        _is_heading(line.text),
                        titles.get(line.page, ""),
                    )
                )
                first = False
    return sentences


def _lines(context: str) -> list[_Line]:
    """Non-blank lines of the context with their passage (None outside passages) and page."""
    out: list[_Line] = []
    passage: int | None = None
    marked = False
    page = 0
    for raw in context.splitlines():
        line = raw.strip()
        if not line:
            continue
        if page_open := _PAGE_OPEN.match(line):
            page, passage = int(page_open.group(1)), None
            continue
        if marker := _MARKER.match(line):
            passage = int(marker.group(1))
            line = line[marker.end() :]
            marked = line.startswith("^")
        elif passage is not None and not _continues(line, marked):
            passage = None
        if marked and passage is not None:  # page text: no marks, no footnote markers
            line = " ".join(_FOOTNOTE.sub("", _MARKED_WORD.sub("", line)).split())
        if line:
            out.append(_Line(line, passage, page))
    return out


def _continues(line: str, marked: bool) -> bool:
    """Whether a line after a passage's first is still its page text."""
    if marked:
        return all(word.startswith("^") for word in line.split())
    return _MARKUP.match(line) is None


def _quotable(text: str, counts: Counter[str]) -> bool:
    if is_unspaced(text):
        return sum(1 for c in text if c.isalnum()) >= MIN_UNSPACED_CHARS
    return sum(counts.values()) >= MIN_TERMS


def _is_heading(text: str) -> bool:
    return len(text) <= _HEADING_MAX_CHARS and not text.endswith(_FINAL_PUNCTUATION)
