"""Main-content extraction: HTML through trafilatura, after removing what a reader never sees.

Before trafilatura runs, the page loses scripts, styles, comments, templates and every box or
text run that its own CSS hides (``assistant.visibility``): hidden text is a classic carrier of
prompt injections. Trafilatura then keeps the main text without navigation, ads or comments,
and its result is cut into blocks: paragraphs, headings, list items, table rows (cells joined
by `` | ``), quotes and definitions are separate blocks; ``<br>`` stays a line break inside a
block; preformatted code keeps its line breaks and indentation. The article's lead, which
trafilatura often leaves in the article's header, is put back before the body
(``assistant.leads``).
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import lxml.etree
import lxml.html
import trafilatura
from selectolax.lexbor import LexborHTMLParser

from flightdeck.assistant.leads import find_lead
from flightdeck.assistant.pages import Block, Extracted, PageInput
from flightdeck.assistant.pdf import extract_pdf
from flightdeck.assistant.visibility import drop_element, remove_invisible

_CHROME_TAGS = ("nav", "header", "footer", "aside", "form", "button", "menu", "select")
_MIN_MAIN_TEXT = 250  # characters; trafilatura's min_extracted_size
_SAME_TEXT_SHARE = 0.8  # of trafilatura's short result found in the page's own blocks
# lxml refuses a str that declares its encoding ("<?xml ... encoding=...?>", XHTML pages)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# A browser that runs scripts reads <noscript> as raw text and never shows it; libxml2 parses it
# as markup, so "<noscript><div></noscript>" would swallow the rest of the page into it.
_NOSCRIPT = re.compile(r"<noscript\b[^>]*>(?:(?!<noscript\b).)*?</noscript\s*>", re.I | re.S)
_INVISIBLE_CHARS = dict.fromkeys(map(ord, "\u00ad\u200b\ufeff"))  # soft hyphen, ZWSP, BOM
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
    _mark_preformatted(tree)
    document = trafilatura.bare_extraction(
        tree,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        deduplicate=False,
        with_metadata=False,
    )
    body = getattr(document, "body", None)
    blocks = _BlockWriter(_XML).write(body) if body is not None else []
    if sum(len(b.text) for b in blocks) < _MIN_MAIN_TEXT:
        blocks = _short_result(html, blocks)
    lead = find_lead(tree, "".join(b.text for b in blocks))
    if lead is not None:  # trafilatura often leaves the article's lead in its header
        at = 1 if blocks[0].kind == "heading" else 0
        blocks[at:at] = [Block("paragraph", b.text) for b in _BlockWriter(_HTML).write(lead)]
    return Extracted(page_title, tuple(blocks))


def _short_result(html: str, chosen: list[Block]) -> list[Block]:
    """Blocks for a result too short for trafilatura's main-text path: its fallback glues
    inline elements as lines, so cut the page's own blocks (from the source: trafilatura
    changed the tree) and keep those trafilatura chose; all of them when it chose nothing."""
    fresh = _parse(html)
    remove_invisible(fresh)
    own = _blocks_from_tree(fresh)
    if not chosen or not own:
        return own  # empty when the page is only navigation and scripts
    target = _compact("".join(b.text for b in chosen))
    kept: list[Block] = []
    pos = found = 0
    for block in own:  # in page order, as trafilatura keeps them
        text = _compact(block.text)
        at = target.find(text, pos) if text else -1
        if at >= 0:
            kept.append(block)
            pos, found = at + len(text), found + len(text)
    return kept if found >= _SAME_TEXT_SHARE * len(target) else chosen


def _compact(text: str) -> str:
    return "".join(unicodedata.normalize("NFC", text).split())


def _mark_preformatted(tree: Any) -> None:
    """Wrap the content of each ``<pre>`` without ``<code>`` in one: trafilatura keeps the
    layout of code but turns a bare ``<pre>`` into a quote."""
    for pre in tree.iter("pre"):
        if pre.find(".//code") is not None:
            continue
        code = lxml.html.Element("code")
        code.text, pre.text = pre.text, None
        for child in list(pre):
            code.append(child)
        pre.append(code)


def _parse(html: str) -> Any:
    """An lxml tree of the page, nested as a browser nests it: the HTML5 parser (lexbor) reads
    the page and its serialization goes to lxml, whose own HTML 4 parser nests unclosed
    elements differently (an unclosed ``<div>`` in a menu's ``<li>`` swallowed the article
    into the hidden menu). Judging visibility on another nesting than the browser's would hide
    what a reader sees, or show what it does not."""
    if not html.strip():
        return None
    source = _NOSCRIPT.sub("", _XML_DECLARATION.sub("", html, count=1))
    with contextlib.suppress(ValueError, UnicodeError):  # if lexbor refuses it, lxml reads it
        source = LexborHTMLParser(source).html or source
    try:
        return lxml.html.document_fromstring(source)
    except (lxml.etree.ParserError, ValueError):
        return None


def _title_of(tree: Any) -> str:
    found = tree.xpath("//title/text()")
    return _normalize(str(found[0])) if found else ""


@dataclass(frozen=True, slots=True)
class _Grammar:
    """The tag names of one tree dialect: trafilatura's XML or HTML."""

    blocks: frozenset[str]
    headings: frozenset[str]
    verbatim: frozenset[str]
    line_break: str
    row: str
    cells: frozenset[str]


_HTML_BLOCKS = (
    "address article aside blockquote body caption center dd details dialog div dl dt "
    "fieldset figcaption figure footer form header hgroup hr li main nav ol p section "
    "summary table tbody td tfoot th thead tr ul"
)
_XML = _Grammar(
    blocks=frozenset({"body", "div", "p", "list", "item", "quote", "table", "row", "cell"}),
    headings=frozenset({"head"}),
    verbatim=frozenset({"code"}),
    line_break="lb",
    row="row",
    cells=frozenset({"cell"}),
)
_HTML = _Grammar(
    blocks=frozenset(_HTML_BLOCKS.split()),
    headings=frozenset({"h1", "h2", "h3", "h4", "h5", "h6"}),
    verbatim=frozenset({"pre"}),
    line_break="br",
    row="tr",
    cells=frozenset({"td", "th"}),
)


class _BlockWriter:
    """Cuts a tree into blocks: each block element (paragraph, list item, table row, heading,
    quote, definition) is a boundary; ``<br>`` is a line break inside a block; inline elements
    (``<b>``, ``<a>``, ``<span>``) never split a word; preformatted text keeps its layout."""

    def __init__(self, grammar: _Grammar) -> None:
        self.g = grammar
        self.blocks: list[Block] = []
        self._has_block: set[Any] = set()

    def write(self, root: Any) -> list[Block]:
        g = self.g
        boundary = g.blocks | g.headings | g.verbatim | {g.row}
        for el in root.iter(*boundary):
            if el is not root and self._is_block(el):
                for ancestor in el.iterancestors():
                    if ancestor in self._has_block:
                        break
                    self._has_block.add(ancestor)
        self._container(root)
        return self.blocks

    def _is_block(self, el: Any) -> bool:
        g = self.g
        if el.tag in g.verbatim and g is _XML:  # trafilatura's inline code stays inline
            return "\n" in "".join(el.itertext()) or el.getparent().tag in g.blocks - {"p"}
        return el.tag in g.blocks or el.tag in g.headings or el.tag in g.verbatim or el.tag == g.row

    def _element(self, el: Any) -> None:
        g = self.g
        if el.tag in g.headings:
            self._add("heading", _clean_lines(self._inline(el)))
        elif el.tag in g.verbatim:
            self._add("paragraph", _verbatim(self._inline(el, keep=True)))
        elif el.tag == g.row:
            cells = [_clean_lines(self._inline(c)).replace("\n", " ") for c in el]
            self._add("paragraph", " | ".join(c for c in cells if c))
        else:
            self._container(el)

    def _container(self, el: Any) -> None:
        run: list[str] = [el.text or ""]
        for child in el:
            if not isinstance(child.tag, str):
                run.append(child.tail or "")
            elif self._is_block(child) or child in self._has_block:
                self._add("paragraph", _clean_lines("".join(run)))
                self._element(child)
                run = [child.tail or ""]
            elif child.tag == self.g.line_break:
                run.append("\n" + (child.tail or ""))
            else:
                run.append(self._inline(child) + (child.tail or ""))
        self._add("paragraph", _clean_lines("".join(run)))

    def _inline(self, el: Any, keep: bool = False) -> str:
        """The text of an element with line breaks as ``\\n`` (``keep``: all whitespace kept)."""
        parts: list[str] = [el.text or ""]
        for child in el:
            if isinstance(child.tag, str):
                parts.append("\n" if child.tag == self.g.line_break else self._inline(child, keep))
            parts.append(child.tail or "")
        return "".join(parts)

    def _add(self, kind: str, text: str) -> None:
        if text:
            self.blocks.append(Block("heading" if kind == "heading" else "paragraph", text))


def _clean_lines(text: str) -> str:
    """Whitespace of flowing text: runs become one space, line breaks (``<br>``) stay; the text
    is in Unicode's composed form (NFC), as people type and search it."""
    text = unicodedata.normalize("NFC", text.translate(_INVISIBLE_CHARS))
    lines = (_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _verbatim(text: str) -> str:
    """Preformatted text: line breaks and indentation kept, trailing spaces and the blank
    lines around it dropped, tabs kept."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _blocks_from_tree(tree: Any) -> list[Block]:
    """Fallback for pages trafilatura finds too short: every block of ``<body>``."""
    body = tree.find("body")
    if body is None:
        return []
    for el in body.xpath("|".join(f".//{t}" for t in _CHROME_TAGS)):
        drop_element(el)
    return _BlockWriter(_HTML).write(body)


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    lines = (_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return " ".join(line for line in lines if line)


def _looks_like_heading(para: str) -> bool:
    return (
        len(para) <= 80 and "\n" not in para and not para.endswith((".", "!", "?", ":", ";", ","))
    )
