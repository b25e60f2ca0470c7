"""PDF text with pypdf, kept per page so a citation can point to a page number.

A page without a text layer (a scan: images and at most a few stray words) is read by OCR when
an engine is available (``ocr.py``); otherwise, or when OCR finds nothing, it is listed in
``Extracted.unreadable`` with the reason, so coverage and the client can say what is missing.
"""

from __future__ import annotations

import io
import logging
import re

import pypdf
from PIL import Image
from pypdf.errors import PdfReadError

from flightdeck.assistant.errors import PageError
from flightdeck.assistant.ocr import NO_ENGINE, OcrEngine, OcrFailed
from flightdeck.assistant.pages import Block, Extracted, UnreadablePage

_SPACE = re.compile(r"[ \t\r\f\v\u00a0]+")
MAX_PDF_PAGES = 500
SCAN_MAX_WORDS = 3  # a page with images and no more words than this is a scan (a page number)

logging.getLogger("pypdf").setLevel(logging.ERROR)


def extract_pdf(
    data: bytes,
    index: int,
    title: str = "",
    *,
    ocr: OcrEngine | None = None,
    no_ocr: str = NO_ENGINE,
) -> Extracted:
    """Blocks of every PDF page (paragraphs split at blank lines), tagged with page numbers.

    Scanned pages go through ``ocr``; without it (``no_ocr`` says why) they are unreadable.
    Raises PageError (``invalid_pdf``, or ``empty_page`` when no page has text).
    """
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
        unreadable: list[UnreadablePage] = []
        ocr_pages: list[int] = []
        for number, page in enumerate(pages, start=1):
            text = page.extract_text() or ""
            if len(text.split()) <= SCAN_MAX_WORDS and (images := _images(page)):
                budget = ocr is not None and len(ocr_pages) < ocr.max_pages
                text, reason = _ocr(ocr if budget else None, images, no_ocr if ocr is None else "")
                if reason:
                    unreadable.append(UnreadablePage(number, reason))
                    continue
                ocr_pages.append(number)
            blocks.extend(_page_blocks(text, number))
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except PageError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise PageError(index, f"the PDF cannot be read ({exc})", code="invalid_pdf") from None
    if not blocks:
        detail = "; ".join(f"page {u.page_no}: {u.reason}" for u in unreadable[:3])
        raise PageError(
            index,
            "the PDF has no extractable text" + (f" ({detail})" if detail else ""),
            code="empty_page",
        )
    return Extracted(
        title.strip() or str(meta_title).strip(),
        tuple(blocks),
        source_pages=len(pages),
        unreadable=tuple(unreadable),
        ocr_pages=tuple(ocr_pages),
    )


def _images(page: pypdf.PageObject) -> list[Image.Image]:
    """The page's images, decoded; an image pypdf cannot decode is skipped."""
    images = []
    try:
        for item in page.images:
            if item.image is not None:
                images.append(item.image)
    except Exception:  # pypdf raises many kinds of errors on odd image streams
        logging.getLogger(__name__).debug("an image of a PDF page could not be decoded")
    return images


def _ocr(ocr: OcrEngine | None, images: list[Image.Image], no_ocr: str) -> tuple[str, str]:
    """(text, "") of a scanned page, or ("", why it stays unreadable)."""
    if ocr is None:
        why = no_ocr or "the OCR limit of pages per PDF was reached ([assistant] ocr_max_pages)"
        return "", f"no text layer (a scanned image); {why}"
    try:
        text = ocr.read(images)
    except OcrFailed as exc:
        return "", f"no text layer (a scanned image); {exc}"
    if not text.strip():
        return "", "no text layer (a scanned image), and OCR found no text in it"
    return text, ""


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
