"""The values the assistant passes between its stages: pages, blocks and passages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal["heading", "paragraph"]


@dataclass(frozen=True, slots=True)
class PageInput:
    """One tab as the client sent it: exactly one of html, text or pdf (bytes)."""

    url: str
    title: str
    html: str | None = None
    text: str | None = None
    pdf: bytes | None = None
    selection: str | None = None


@dataclass(frozen=True, slots=True)
class Block:
    """A heading or paragraph of main text; ``page_no`` is the PDF page (1-based) if any."""

    kind: BlockKind
    text: str
    page_no: int | None = None


@dataclass(frozen=True, slots=True)
class UnreadablePage:
    """A page of a PDF whose text could not be read (a scan without OCR, say), and why."""

    page_no: int
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"page_no": self.page_no, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Extracted:
    """The reader view of a page: its title and main text, as blocks joined by blank lines.

    For a PDF, ``source_pages`` is its page count, ``unreadable`` the pages whose text is
    missing from the blocks and ``ocr_pages`` those read by OCR.
    """

    title: str
    blocks: tuple[Block, ...]
    source_pages: int = 0
    unreadable: tuple[UnreadablePage, ...] = ()
    ocr_pages: tuple[int, ...] = ()

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)


@dataclass(slots=True)
class Passage:
    """A span of a page's main text that can be ranked, sent and cited.

    ``id`` is stable for the same text (content hash + position); ``start``/``end`` are
    character offsets into the page's extracted text.
    """

    id: str
    index: int
    start: int
    end: int
    text: str
    heading: str
    page_no: int | None = None
    tokens: int = 0
    terms: dict[str, int] = field(default_factory=dict)
