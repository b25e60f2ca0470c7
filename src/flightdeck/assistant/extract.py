"""Main-content extraction: HTML through trafilatura, after removing what a reader never sees.

Before trafilatura runs, the page loses scripts, styles, comments, templates and every element
hidden by ``hidden``, ``aria-hidden="true"``, or an inline style (``display:none``,
``visibility:hidden``, ``opacity:0``, ``font-size:0``): hidden text is a classic carrier of
prompt injections. Trafilatura then keeps the main text without navigation, ads or comments.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.etree
import lxml.html
import trafilatura

from flightdeck.assistant.pages import Block, Extracted, PageInput
from flightdeck.assistant.pdf import extract_pdf

_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*(hidden|collapse)|opacity\s*:\s*0(\.0*)?\s*(;|$)"
    r"|font-size\s*:\s*0(px|em|rem|pt|%)?\s*(;|$)|(^|;)\s*(height|width)\s*:\s*0(px)?\s*;.*overflow\s*:\s*hidden",
    re.IGNORECASE,
)
_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "object", "embed")
_CHROME_TAGS = ("nav", "header", "footer", "aside", "form", "button", "menu", "select")
_HIDDEN_CLASSES = {"hidden", "d-none", "is-hidden", "visually-hidden-all"}
_SPACE = re.compile(r"[ \t\r\f\v\u00a0]+")


def extract_page(page: PageInput, index: int) -> Extracted:
    """The reader view of one page; raises PageError (via callees) when nothing is readable."""
    if page.pdf is not None:
        return extract_pdf(page.pdf, index, page.title)
    if page.html is not None:
        return extract_html(page.html, page.title)
    return extract_text(page.text or "", page.title)


def extract_text(text: str, title: str = "") -> Extracted:
    """Plain text: paragraphs are separated by blank lines; a short line ending without
    punctuation and followed by a paragraph is kept as a heading."""
    blocks: list[Block] = []
    for raw in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        para = _normalize(raw)
        if not para:
            continue
        blocks.append(Block("heading" if _looks_like_heading(para) else "paragraph", para))
    return Extracted(title.strip(), tuple(blocks))


def extract_html(html: str, title: str = "") -> Extracted:
    tree = _parse(html)
    if tree is None:
        return Extracted(title.strip(), ())
    page_title = title.strip() or _title_of(tree)
    remove_invisible(tree)
    document = trafilatura.bare_extraction(
        tree,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        favor_recall=True,
        deduplicate=False,
        with_metadata=False,
    )
    body = getattr(document, "body", None)
    blocks: list[Block] = []
    if body is not None:
        _walk_xml(body, blocks)
    if not blocks:  # trafilatura may have changed the tree: start again from the source
        fresh = _parse(html)
        remove_invisible(fresh)
        blocks = _blocks_from_tree(fresh)
    return Extracted(page_title, tuple(blocks))


def remove_invisible(tree: Any) -> None:
    """Drop scripts, comments and hidden elements in place."""
    for comment in tree.xpath("//comment()"):
        _drop(comment)
    for el in tree.xpath("|".join(f"//{t}" for t in _DROP_TAGS)):
        _drop(el)
    hidden = tree.xpath("//*[@hidden or @aria-hidden='true' or @style or @class or @type='hidden']")
    for el in hidden:
        if _is_hidden(el):
            _drop(el)


def _is_hidden(el: Any) -> bool:
    return (
        el.get("hidden") is not None
        or el.get("aria-hidden") == "true"
        or el.get("type") == "hidden"
        or bool(_HIDDEN_STYLE.search(el.get("style") or ""))
        or bool(_HIDDEN_CLASSES & set((el.get("class") or "").split()))
    )


def _drop(el: Any) -> None:
    parent = el.getparent()
    if parent is None:
        return
    # Keep the text that follows the element (its tail belongs to the parent).
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def _parse(html: str) -> Any:
    if not html.strip():
        return None
    try:
        return lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return None


def _title_of(tree: Any) -> str:
    found = tree.xpath("//title/text()")
    return _normalize(str(found[0])) if found else ""


def _walk_xml(node: Any, blocks: list[Block]) -> None:
    for child in node:
        tag = child.tag
        if tag == "head":
            _append(blocks, "heading", _all_text(child))
        elif tag == "list":
            for item in child.iter("item"):
                _append(blocks, "paragraph", _all_text(item))
        elif tag == "table":
            for row in child.iter("row"):
                cells = [_all_text(c) for c in row.iter("cell")]
                _append(blocks, "paragraph", " | ".join(c for c in cells if c))
        elif tag in ("p", "quote", "code"):
            _append(blocks, "paragraph", _all_text(child))
        elif tag == "div" or len(child):
            _walk_xml(child, blocks)
        else:
            _append(blocks, "paragraph", _all_text(child))


def _blocks_from_tree(tree: Any) -> list[Block]:
    """Fallback for pages trafilatura finds too short: every block-level element's text."""
    body = tree.find("body")
    if body is None:
        return []
    for el in body.xpath("|".join(f".//{t}" for t in _CHROME_TAGS)):
        _drop(el)
    blocks: list[Block] = []
    for el in body.iter("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td"):
        kind = "heading" if el.tag.startswith("h") and len(el.tag) == 2 else "paragraph"
        _append(blocks, kind, _all_text(el))
    if not blocks:
        _append(blocks, "paragraph", _all_text(body))
    return blocks


def _append(blocks: list[Block], kind: str, text: str) -> None:
    if text:
        blocks.append(Block("heading" if kind == "heading" else "paragraph", text))


def _all_text(node: Any) -> str:
    return _normalize("".join(node.itertext()))


def _normalize(text: str) -> str:
    lines = (_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return " ".join(line for line in lines if line)


def _looks_like_heading(para: str) -> bool:
    return (
        len(para) <= 80 and "\n" not in para and not para.endswith((".", "!", "?", ":", ";", ","))
    )
