"""Passages by structure: a heading opens a passage, paragraphs fill it up to a target size.

Offsets point into the extracted text (blocks joined by blank lines); ids are the content hash
of that text plus the passage's position, so the same page always yields the same ids.
A passage's ``tokens`` is what it costs in the prompt: datamarked, with its ``[n]`` marker.
"""

from __future__ import annotations

import hashlib
import re

from flightdeck.assistant.pages import Block, Extracted, Passage
from flightdeck.assistant.spotlight import marked_token_count
from flightdeck.text.terms import term_counts

TARGET_CHARS = 700  # about 150 tokens: small enough to rank, big enough to read
MAX_CHARS = 1400
PASSAGE_OVERHEAD = 4  # the "[n] " marker and the blank line after the passage
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def chunk(extracted: Extracted) -> list[Passage]:
    """Cut the page's blocks into passages with stable ids and character offsets."""
    digest = content_hash(extracted.text)[:12]
    spans = list(_block_spans(extracted.blocks))
    passages: list[Passage] = []
    group: list[tuple[int, int, Block]] = []
    heading = ""

    def flush() -> None:
        if not group:
            return
        start, end = group[0][0], group[-1][1]
        page_no = next((b.page_no for _, _, b in group if b.page_no is not None), None)
        text = "\n\n".join(b.text for _, _, b in group)
        passages.append(
            Passage(f"{digest}.{len(passages)}", len(passages), start, end, text, heading, page_no)
        )
        group.clear()

    for start, end, block in spans:
        size = sum(len(b.text) for _, _, b in group)
        new_page = bool(group) and block.page_no != group[-1][2].page_no
        if block.kind == "heading" or new_page or (group and size + len(block.text) > TARGET_CHARS):
            flush()
        if block.kind == "heading":
            heading = block.text
        if len(block.text) > MAX_CHARS:
            for s, e in _split_long(block.text):
                group.append(
                    (start + s, start + e, Block(block.kind, block.text[s:e], block.page_no))
                )
                flush()
            continue
        group.append((start, end, block))
    flush()
    for p in passages:
        p.tokens = marked_token_count(p.text) + PASSAGE_OVERHEAD
        p.terms = term_counts(f"{p.heading} {p.text}" if p.heading not in p.text else p.text)
    return passages


def _block_spans(blocks: tuple[Block, ...]) -> list[tuple[int, int, Block]]:
    spans = []
    offset = 0
    for block in blocks:
        spans.append((offset, offset + len(block.text), block))
        offset += len(block.text) + 2  # the blank line between blocks
    return spans


def _split_long(text: str) -> list[tuple[int, int]]:
    """Sentence-aligned (start, end) pieces of a paragraph longer than MAX_CHARS."""
    pieces: list[tuple[int, int]] = []
    start = 0
    last_cut = 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() - start > TARGET_CHARS and last_cut > start:
            pieces.append((start, last_cut))
            start = _skip_space(text, last_cut)
        last_cut = m.start()
    while len(text) - start > MAX_CHARS:  # no sentence ends: cut at a space
        cut = text.rfind(" ", start, start + TARGET_CHARS)
        cut = cut if cut > start else start + TARGET_CHARS
        pieces.append((start, cut))
        start = _skip_space(text, cut)
    pieces.append((start, len(text)))
    return pieces


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i
