"""PDF text with pypdf, kept per page so a citation can point to a page number."""

from __future__ import annotations

import io
import logging
import re

import pypdf
from pypdf.errors import PdfReadError

from flightdeck.assistant.errors import PageError
from flightdeck.assistant.pages import Block, Extracted

_SPACE = re.compile(r"[ \t\r\f\v\u00a0]+")
MAX_PDF_PAGES = 500

logging.getLogger("pypdf").setLevel(logging.ERROR)


def extract_pdf(data: bytes, index: int, title: str = "") -> Extracted:
    """Blocks of every PDF page (paragraphs split at blank lines), tagged with page numbers."""
    if not data.startswith(b"%PDF"):
        raise PageError(index, "pdf_base64 is not a PDF file", code="invalid_pdf")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise PageError(index, "the PDF is encrypted", code="invalid_pdf")
        pages = reader.pages
        if len(pages) > MAX_PDF_PAGES:
            raise PageError(
                index, f"the PDF has more than {MAX_PDF_PAGES} pages", code="invalid_pdf"
            )
        blocks: list[Block] = []
        for number, page in enumerate(pages, start=1):
            blocks.extend(_page_blocks(page.extract_text() or "", number))
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except PageError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise PageError(index, f"the PDF cannot be read ({exc})", code="invalid_pdf") from None
    if not blocks:
        raise PageError(index, "the PDF has no extractable text (a scan?)", code="empty_page")
    return Extracted(title.strip() or str(meta_title).strip(), tuple(blocks))


def _page_blocks(text: str, number: int) -> list[Block]:
    blocks: list[Block] = []
    for raw in re.split(r"\n\s*\n", text):
        para = " ".join(_SPACE.sub(" ", line).strip() for line in raw.splitlines()).strip()
        if para:
            blocks.append(Block("paragraph", para, page_no=number))
    if len(blocks) == 1 and len(blocks[0].text) > 1200:
        # pypdf often returns a page without blank lines; split it at sentence ends instead.
        return [Block("paragraph", s, page_no=number) for s in _sentence_groups(blocks[0].text)]
    return blocks


def _sentence_groups(text: str, size: int = 600) -> list[str]:
    groups: list[str] = []
    current = ""
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        if current and len(current) + len(sentence) > size:
            groups.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        groups.append(current)
    return groups
