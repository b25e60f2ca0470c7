"""The article's lead (standfirst, teaser, intro): the paragraph between the headline and the
body that main-text extractors often leave out, because it sits in the article's header.

On trafilatura's evaluation set (tune split) the lead was the most common passage that
trafilatura missed. The rule is narrow on purpose: an element whose class or id names a lead
(``lead``, ``teaser``, ``intro``, ``standfirst``, ``excerpt``, ``abstract``, ``deck``, ...),
after the page's first ``<h1>``, before the extracted body begins, with no heading between it
and the body, sentence-like, not mostly links, and not in navigation, an aside, a footer, a
form or a figure. The tree it reads has already lost what a reader never sees.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_LEAD_WORDS = frozenset(
    "lead lede leadtext intro introduction introtext teaser teasertext abstract summary "  # noqa: SIM905
    "standfirst excerpt subtitle subline deck dek description vorspann incipit chapo sapo "
    "entradilla bajada occhiello sommario".split()
)
# Words that make a lead-like name something else: a site's tagline, an author's bio, a
# picture's text, one card of a list of other articles.
_OTHER_WORDS = frozenset(
    "site author bio video figure image img photo slide slideshow swiper carousel accordion "  # noqa: SIM905
    "logo meta info card list item related".split()
)
_NAME_WORDS = re.compile(r"[\s_\-]+|(?<=[a-z])(?=[A-Z])")  # "ArticlePage-lead__text"
_LEAD_TAGS = frozenset({"p", "div", "h2", "h3", "h4", "span", "strong", "b", "em"})
_BODY_TAGS = frozenset({"p", "li", "td", "blockquote", "pre"})
_NOT_INSIDE = frozenset({"nav", "aside", "footer", "form", "figure"})
_SENTENCE = re.compile(r"[.!?:…\"“”»«]")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\ufeff"))
_SCAN = 400  # elements after the headline looked at
_MIN_CHARS, _MAX_CHARS = 50, 1500  # of a lead, whitespace aside
_PREFIX = 40  # characters of a paragraph that, found in the body, mark where the body starts
_MAX_LINK_SHARE = 0.3


def find_lead(tree: Any, body: str) -> Any | None:
    """The lead element of an lxml HTML document whose extracted main text is ``body``, or
    None (no headline, no lead-like element, the lead already in ``body``, or the body's
    start not found after it)."""
    if not body:
        return None
    text = _compact(body)
    h1 = next((h for h in tree.iter("h1") if "".join(h.itertext()).strip()), None)
    if h1 is None:
        return None
    candidate = None
    for el in h1.xpath(f"following::*[position() <= {_SCAN}]"):
        if not isinstance(el.tag, str) or (candidate is not None and _inside(el, candidate)):
            continue
        if el.tag == "h1":
            return None  # a second headline: not one article's header
        if el.tag not in _LEAD_TAGS or not _lead_name(el):
            if _starts_body(el, text):
                return candidate
            if el.tag in ("h2", "h3") and "".join(el.itertext()).strip():
                candidate = None  # a heading between a candidate and the body: not its lead
            continue
        own = _compact("".join(el.itertext()))
        if own[:_PREFIX] in text:
            return candidate  # the body starts, with a lead it already has
        if _is_lead(el, own):
            candidate = el
    return None


def _is_lead(el: Any, own: str) -> bool:
    if not _MIN_CHARS <= len(own) <= _MAX_CHARS:
        return False
    if any(_lead_name(d) for d in el.iterdescendants() if isinstance(d.tag, str)):
        return False  # the inner one is the lead
    if any(a.tag in _NOT_INSIDE for a in el.iterancestors()):
        return False
    links = sum(len(_compact("".join(a.itertext()))) for a in el.iter("a"))
    return links <= _MAX_LINK_SHARE * len(own) and bool(_SENTENCE.search(own))


def _starts_body(el: Any, text: str) -> bool:
    if el.tag not in _BODY_TAGS and not (el.tag == "div" and (el.text or "").strip()):
        return False
    own = _compact("".join(el.itertext()))
    return len(own) >= 20 and own[:_PREFIX] in text


def _lead_name(el: Any) -> bool:
    names = f"{el.get('class') or ''} {el.get('id') or ''}"
    words = {w.lower() for w in _NAME_WORDS.split(names) if w}
    return bool(words & _LEAD_WORDS) and not words & _OTHER_WORDS


def _inside(el: Any, ancestor: Any) -> bool:
    return any(a is ancestor for a in el.iterancestors())


def _compact(text: str) -> str:
    """Text without whitespace, in NFC, for comparing an element with extracted text."""
    return "".join(unicodedata.normalize("NFC", text.translate(_INVISIBLE)).split())
