"""What a reader of a page never sees, judged from the page's own CSS, removed before extraction.

Hidden text is a classic carrier of prompt injections. The browser extension drops invisible
nodes using the browser's computed style before it sends a page (``extension/page_tools.js``);
this module is the server's own judgement for every page, from HTML alone:

- a small cascade: the page's ``<style>`` blocks (rules whose declarations can hide something,
  matched with cssselect, ordered by ``!important``, specificity and source order), then the
  inline ``style`` attribute;
- a box is removed with everything in it when it is ``display:none``, ``visibility:hidden``,
  ``opacity`` ~0, pushed off-screen (``left``/``top``/``margin`` <= -999px), clipped away
  (``clip: rect(0 0 0 0)``, ``clip-path: inset(50%+)``/``circle(0)``), scaled to nothing
  (``transform: scale(0)``), a box of <= 1px with ``overflow:hidden``, or carries ``hidden``,
  ``aria-hidden="true"`` (any case) or a well-known hiding class (``sr-only``, ...);
- a text run is removed when its (inherited) colour is transparent or the colour of the
  background behind it (contrast ratio < 1.1), its font is 3px or smaller, or its
  ``text-indent`` pushes it off-screen.

Stylesheets from ``<link>`` are not fetched: the extension's computed-style pass covers them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import Any

import cssselect
import lxml.etree
import tinycss2
import tinycss2.color3

_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "object", "embed")
_HIDDEN_CLASSES = {
    "hidden",
    "d-none",
    "is-hidden",
    "visually-hidden",
    "visually-hidden-all",
    "sr-only",
    "screen-reader-text",
}
_INLINE_TAGS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "cite",
        "code",
        "data",
        "dfn",
        "em",
        "font",
        "i",
        "kbd",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "time",
        "u",
        "var",
    ]
)
_OFFSET_PROPS = ("left", "top", "right", "bottom", "margin-left", "margin-top")
_LENGTH = re.compile(r"^(-?\d*\.?\d+)(px|pt|em|rem|%|vw|vh)?$")
_SCALE_ZERO = re.compile(r"scale[xyz3d]*\(\s*0*\.?0+\s*(\)|,)|matrix\(\s*0\s*,\s*0\s*,\s*0\s*,\s*0")
_CLIP_RECT = re.compile(r"rect\(\s*([^)]*)\)")
_CLIP_PATH = re.compile(r"inset\(\s*(\d+(?:\.\d+)?)%|(circle|ellipse)\(\s*0(px|%)?\s*(\)|at)")
_NAME_TOKEN = re.compile(r"[.#](?:[\w-]|\\[^\s0-9a-fA-F])+")  # ".lg\:flex" is class "lg:flex"
_ESCAPE = re.compile(r"\\(.)")
_PSEUDO = re.compile(r"(?<!\\):")
_COMBINATOR = re.compile(r"\s*[\s>+~]\s*")
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_RULE = re.compile(r"([^{}]*)\{([^{}]*)\}")
_CHILD = re.compile(r"\s*>\s*")
_SELECTOR_PARTS = re.compile(r"(>|\s+)")
_COMPOUND = re.compile(r"([a-zA-Z][\w-]*|\*)?((?:[.#]-?[_a-zA-Z][\w-]*)*)")
_COMPOUND_NAMES = re.compile(r"[.#][^.#]+")
_NEEDS_TOKENIZER = re.compile(r"[(\"'\\]|/\*")
# Media blocks that do not apply to a desktop screen: print, and small or narrow viewports
# (responsive sites hide their sidebars and menus there, not for the reader at a desk).
_OTHER_MEDIA = re.compile(
    r"@media[^{;]*\b(?:print|speech|max-width|max-device-width|max-height|orientation:\s*portrait"
    r"|hover:\s*none|pointer:\s*coarse)\b[^{;]*\{",
    re.IGNORECASE,
)
# Cheap pre-filters of a rule's body before it is parsed: what can hide, and backgrounds.
_HIDING_WORDS = (
    r"display\s*:\s*none|visibility|opacity|font-size|font\s*:|-\d{3,}|clip|scale|matrix"
    r"|text-indent|transparent|filter|content-visibility|(?:height|width)\s*:\s*[01]\D"
    r"|color\s*:\s*(?:#[d-f]|white|rgba?\(\s*(?:2[0-5]\d|1\d\d)|hsla?)"
)
_MAYBE_HIDING = re.compile(_HIDING_WORDS, re.IGNORECASE)
_MAYBE_HIDING_OR_BACKGROUND = re.compile(_HIDING_WORDS + "|background", re.IGNORECASE)
_MAX_RULES = 300  # hiding selectors matched per page, and as many showing: bounded work
WHITE = (1.0, 1.0, 1.0)
Color = tuple[float, float, float]
Declarations = dict[str, str]


@dataclass(frozen=True, slots=True)
class _Inherited:
    color: Color | None  # None: transparent text
    color_declared: bool  # False: the default black, maybe set by a stylesheet we cannot see
    background: Color | None  # None: unknown (an image), never judged
    font_px: float
    text_indent_px: float


def remove_invisible(tree: Any) -> None:
    """Drop comments, scripts, styles and every box or text run a reader never sees, in place.

    ``tree`` is an lxml HTML document; the page's ``<style>`` blocks are read before removal.
    """
    sheets = [el.text or "" for el in tree.iter("style")]
    for comment in tree.xpath("//comment() | //processing-instruction()"):
        drop_element(comment)
    for el in tree.xpath("|".join(f"//{t}" for t in _DROP_TAGS)):
        drop_element(el)
    cascade = _stylesheet_cascade(tree, sheets)
    root = tree.getroottree().getroot() if hasattr(tree, "getroottree") else tree
    start = _Inherited((0.0, 0.0, 0.0), False, WHITE, 16.0, 0)
    stack: list[tuple[Any, _Inherited]] = [(root, start)]
    doomed: list[Any] = []
    while stack:
        el, parent = stack.pop()
        if not isinstance(el.tag, str):
            continue
        inline = el.get("style")
        style = _resolve(cascade.get(el, {}), _declarations(inline) if inline else {})
        if _box_hidden(el, style):
            doomed.append(el)
            continue
        state = _inherit(parent, style)
        if _text_hidden(state):
            el.text = None
            for child in el:
                child.tail = None
        # "font-size: 0" on a row of inline blocks removes the white space between them; the
        # blocks set their own size in rules we may not match, so only inline children inherit it.
        block_state = replace(state, font_px=16.0) if state.font_px <= 3 else state
        stack.extend((child, state if child.tag in _INLINE_TAGS else block_state) for child in el)
    for el in doomed:
        drop_element(el)


def _box_hidden(el: Any, style: Declarations) -> bool:
    if (
        el.get("hidden") is not None
        or (el.get("aria-hidden") or "").strip().lower() == "true"
        or (el.get("type") or "").lower() == "hidden"
        or _hiding_class(el.get("class"))
    ):
        return True
    if not style:
        return False
    if style.get("display") == "none" or style.get("content-visibility") == "hidden":
        return True
    if style.get("visibility") in ("hidden", "collapse"):
        return True
    if _number(style.get("opacity"), 1.0) < 0.05 or "opacity(0)" in style.get("filter", ""):
        return True
    if any(_px(style.get(p), 16.0, 0.0) <= -999 for p in _OFFSET_PROPS):
        return True
    if _SCALE_ZERO.search(style.get("transform", "")):
        return True
    if _clipped(style):
        return True
    overflow = style.get("overflow", "") + style.get("overflow-x", "") + style.get("overflow-y", "")
    if "hidden" in overflow or "clip" in overflow:
        for prop in ("height", "width", "max-height", "max-width"):
            if _px(style.get(prop), 16.0, 99.0) <= 1:
                return True
    return False


def _hiding_class(classes: str | None) -> bool:
    """A well-known hiding class, unless a responsive variant shows the element again
    (Tailwind's ``hidden lg:flex``)."""
    names = (classes or "").lower().split()
    return bool(_HIDDEN_CLASSES.intersection(names)) and not any(":" in n for n in names)


def _clipped(style: Declarations) -> bool:
    clip = _CLIP_RECT.search(style.get("clip", ""))
    if clip:
        sides = [_px(v, 16.0, 99.0) for v in re.split(r"[\s,]+", clip.group(1).strip()) if v]
        if len(sides) == 4 and (sides[2] - sides[0] <= 1 or sides[1] - sides[3] <= 1):
            return True
    path = _CLIP_PATH.search(style.get("clip-path", ""))
    if path is None:
        return False
    return path.group(1) is None or float(path.group(1)) >= 50


def _inherit(parent: _Inherited, style: Declarations) -> _Inherited:
    if not style:
        return parent
    color, declared = parent.color, parent.color_declared
    if "color" in style:
        color, declared = _color(style["color"], parent.color), True
    background = parent.background
    bg_value = style.get("background-color") or style.get("background") or ""
    if "url(" in bg_value or "gradient" in bg_value or "background-image" in style:
        background = None
    elif bg_value:
        first = bg_value.split()[0] if "(" not in bg_value else bg_value
        parsed = tinycss2.color3.parse_color(first)
        if parsed is not None and not isinstance(parsed, str) and parsed.alpha >= 0.95:
            background = (parsed.red, parsed.green, parsed.blue)
    font_px = _px(style.get("font-size"), parent.font_px, parent.font_px)
    indent = _px(style.get("text-indent"), font_px, parent.text_indent_px)
    return _Inherited(color, declared, background, font_px, indent)


def _text_hidden(state: _Inherited) -> bool:
    if state.color is None or state.font_px <= 3 or state.text_indent_px <= -999:
        return True
    if not state.color_declared or state.background is None:
        return False  # a colour from an unseen stylesheet (or over an image): cannot judge
    return _contrast(state.color, state.background) < 1.1


def _color(value: str, current: Color | None) -> Color | None:
    parsed = tinycss2.color3.parse_color(value)
    if parsed is None:
        return current  # unknown syntax: keep what we had
    if isinstance(parsed, str):  # currentColor
        return current
    if parsed.alpha < 0.05:
        return None
    return (parsed.red, parsed.green, parsed.blue)


def _contrast(a: Color, b: Color) -> float:
    """WCAG 2 contrast ratio of two sRGB colours (1.0 to 21.0)."""

    def luminance(c: Color) -> float:
        lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _number(value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        return float(value.rstrip("%")) / (100 if value.endswith("%") else 1)
    except ValueError:
        return default


def _px(value: str | None, em_px: float, default: float) -> float:
    """A CSS length in px (em and % relative to ``em_px``); ``default`` when not a length."""
    if not value:
        return default
    m = _LENGTH.match(value.split()[0])
    if m is None:
        return default
    number, unit = float(m.group(1)), m.group(2) or "px"
    if unit == "px":
        return number
    if unit == "pt":
        return number * 4 / 3
    if unit in ("em", "rem"):
        return number * em_px
    if unit == "%":
        return number * em_px / 100
    return number * 10  # vw/vh: about 10px each on a small screen


def _declarations(css: str) -> Declarations:
    """``prop -> value`` (lower case) of a declaration list, later wins; ``!important`` ones
    are kept apart under ``"!" + prop`` (see ``_resolve``)."""
    if not _NEEDS_TOKENIZER.search(css):
        return _rule_declarations(css)  # no strings, functions or comments: a split will do
    out: Declarations = {}
    for decl in tinycss2.parse_blocks_contents(css, skip_whitespace=True, skip_comments=True):
        if decl.type == "declaration":
            key = "!" + decl.lower_name if decl.important else decl.lower_name
            out[key] = tinycss2.serialize(decl.value).strip().lower()
    return out


def _resolve(sheet: Declarations, inline: Declarations) -> Declarations:
    """The cascade: stylesheet, then inline style, then ``!important`` (stylesheet, inline)."""
    if not sheet and not inline:
        return {}
    out = {k: v for k, v in sheet.items() if k[0] != "!"}
    out.update((k, v) for k, v in inline.items() if k[0] != "!")
    out.update((k[1:], v) for k, v in sheet.items() if k[0] == "!")
    out.update((k[1:], v) for k, v in inline.items() if k[0] == "!")
    return out


def _suspicious(declared: Declarations) -> bool:
    """Whether a stylesheet rule can hide something (others are not worth matching)."""
    decls = _resolve(declared, {})
    probe = {k: v for k, v in decls.items() if k not in ("color", "background", "background-color")}
    if _box_hidden_style_only(probe):
        return True
    if any(k in decls for k in ("font-size", "text-indent")):
        state = _inherit(_Inherited((0, 0, 0), False, WHITE, 16.0, 0), decls)
        if state.font_px <= 3 or state.text_indent_px <= -999:
            return True
    if "color" in decls:
        color = _color(decls["color"], (0.0, 0.0, 0.0))
        return color is None or _contrast(color, WHITE) < 1.5 or "background" in decls
    return any(k in decls for k in ("background", "background-color"))


def _box_hidden_style_only(style: Declarations) -> bool:
    return bool(style) and _box_hidden(_NO_ATTRIBUTES, style)


class _NoAttributes:
    def get(self, _name: str) -> None:
        return None


_NO_ATTRIBUTES = _NoAttributes()


def _stylesheet_cascade(tree: Any, sheets: list[str]) -> dict[Any, Declarations]:
    """Each element's declarations from the page's own stylesheets (hiding-relevant rules)."""
    css = " ".join(_desktop_screen_only(_COMMENT.sub(" ", sheet)) for sheet in sheets)
    style_rules = _style_rules(css)
    parsed = _qualified_rules(style_rules, _MAYBE_HIDING)
    hiding = [(prelude, decls) for prelude, decls, hides in parsed if hides]
    if any("color" in decls for _, decls in hiding):  # backgrounds decide if it shows
        parsed = _qualified_rules(style_rules, _MAYBE_HIDING_OR_BACKGROUND)
        hiding = [(prelude, decls) for prelude, decls, hides in parsed if hides]
    if not hiding:
        return {}
    # A rule that shows again what a hiding rule hides (".menu.open { display: block }")
    # must take part too: one that sets a property a hiding rule sets, on a shared class or id.
    props = {k.lstrip("!") for _, decls in hiding for k in decls}
    names = _names_in(tree)
    tokens = {t for prelude, _ in hiding for t in _name_tokens(prelude)}
    # ... and one on a class or id that shares an element with a hiding rule's name: Tailwind's
    # ".hidden" on a nav that ".lg\:flex" shows again on a desktop screen.
    tokens |= {n for t in tokens for el in names.get(t, ()) for n in _names_of_element(el)}
    if tokens:
        parsed = _qualified_rules(
            style_rules, re.compile("|".join(re.escape(p) for p in props)), subject_tokens=tokens
        )
    rules: list[tuple[bool, tuple[int, int, int], int, _Compiled, Declarations]] = []
    for prelude, decls, hides in parsed:
        shows = bool(tokens & _name_tokens(prelude)) and any(k.lstrip("!") in props for k in decls)
        if not (hides or shows):
            continue
        for selector in prelude.split(","):
            if not _may_match(selector, names):
                continue
            for compiled, specificity in _selectors(selector.strip()):
                rules.append((not hides, specificity, len(rules), compiled, decls))
    matched: dict[Any, list[tuple[tuple[int, int, int], int, Declarations]]] = {}
    for _, specificity, order, compiled, decls in [r for r in rules if not r[0]][:_MAX_RULES]:
        for el in _select(tree, compiled, names):
            matched.setdefault(el, []).append((specificity, order, decls))
    # Rules that show again only matter where a hiding rule matched: those first, in order.
    hidden_names = {n for el in matched for n in _names_of_element(el)}
    showing = sorted(
        (r for r in rules if r[0]),
        key=lambda r: (r[3].subject_name or (r[3].anchor or ("",))[0]) not in hidden_names,
    )
    for _, specificity, order, compiled, decls in showing[:_MAX_RULES]:
        for el in _select(tree, compiled, names):
            matched.setdefault(el, []).append((specificity, order, decls))
    cascade: dict[Any, Declarations] = {}
    for el, found in matched.items():
        merged: Declarations = {}
        for _, _, decls in sorted(found, key=lambda r: (r[0], r[1])):
            merged.update(decls)
        cascade[el] = merged
    return cascade


def _names_in(tree: Any) -> dict[str, list[Any]]:
    """The elements of each ``.class`` and ``#id`` (lower case) used in the document."""
    names: dict[str, list[Any]] = {}
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        classes = el.get("class")
        if classes:
            for c in set(classes.lower().split()):
                names.setdefault("." + c, []).append(el)
        ident = el.get("id")
        if ident:
            names.setdefault("#" + ident.lower(), []).append(el)
    return names


def _may_match(selector: str, names: dict[str, list[Any]]) -> bool:
    """False when the selector's subject names a class or id the document never uses."""
    subject = _COMBINATOR.split(selector.strip())[-1]
    subject = _PSEUDO.split(subject, 1)[0]
    return all(t in names for t in _name_tokens(subject))


@functools.lru_cache(maxsize=8192)
def _name_tokens(selector: str) -> frozenset[str]:
    """The ``.class`` and ``#id`` names of a selector, unescaped and in lower case."""
    return frozenset({_ESCAPE.sub(r"\1", t).lower() for t in _NAME_TOKEN.findall(selector)})


def _names_of_element(el: Any) -> list[str]:
    """An element's ``.class`` and ``#id`` names, in lower case."""
    out = ["." + c for c in (el.get("class") or "").lower().split()]
    ident = el.get("id")
    return [*out, "#" + ident.lower()] if ident else out


def _desktop_screen_only(css: str) -> str:
    """The stylesheet without ``@media`` blocks for print or small screens."""
    out: list[str] = []
    pos = 0
    for m in _OTHER_MEDIA.finditer(css):
        if m.start() < pos:
            continue
        out.append(css[pos : m.start()])
        depth, i = 1, m.end()
        while i < len(css) and depth:
            depth += {"{": 1, "}": -1}.get(css[i], 0)
            i += 1
        pos = i
    out.append(css[pos:])
    return "".join(out)


def _style_rules(css: str) -> list[tuple[str, str]]:
    """(selector list, body) of each style rule of a stylesheet; rules nested in ``@media``
    or ``@supports`` count, other at-rules (``@font-face``) do not."""
    out: list[tuple[str, str]] = []
    for m in _RULE.finditer(css):
        prelude = m.group(1).strip()
        if prelude and not prelude.startswith("@"):
            out.append((prelude, m.group(2)))
    return out


def _qualified_rules(
    rules: list[tuple[str, str]], worth: re.Pattern[str], subject_tokens: set[str] | None = None
) -> list[tuple[str, Declarations, bool]]:
    """(selector list, declarations, whether it can hide) of each rule whose body matches
    ``worth`` (and whose selectors name one of ``subject_tokens``, if given)."""
    out: list[tuple[str, Declarations, bool]] = []
    for prelude, body in rules:
        if not worth.search(body):
            continue
        if subject_tokens is not None and not subject_tokens & _name_tokens(prelude):
            continue
        decls = _rule_declarations(body)
        if decls:
            out.append((prelude, decls, _rule_hides(body)))
    return out


@functools.lru_cache(maxsize=8192)
def _rule_hides(body: str) -> bool:
    return _suspicious(_rule_declarations(body))


@functools.lru_cache(maxsize=8192)
def _rule_declarations(body: str) -> Declarations:
    """``_declarations`` of a stylesheet rule's body, by a fast split (bodies repeat a lot)."""
    out: Declarations = {}
    for part in body.split(";"):
        name, colon, value = part.partition(":")
        if not colon:
            continue
        name, value = name.strip().lower(), value.strip().lower()
        if value.endswith("important") and "!" in value:
            out["!" + name] = value[: value.rindex("!")].strip()
        else:
            out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A selector ready to match: by the class/id index and a walk up the tree when it only
    uses tags, classes, ids and combinators (most do), else by its XPath."""

    tree: Any  # cssselect's parsed tree
    xpath: str  # empty when the index path applies
    subject_name: str | None  # ".class" or "#id" of the subject, for the index
    anchor: tuple[str, str] | None  # (".class" or "#id" of an ancestor, the subject's tag)
    simple: bool


@functools.lru_cache(maxsize=4096)
def _selectors(prelude: str) -> tuple[tuple[_Compiled, tuple[int, int, int]], ...]:
    """Each selector of a rule that applies to elements themselves, with its specificity."""
    fast = _simple_selector(prelude)
    if fast is not None:
        return (fast,)
    try:
        parsed = cssselect.parse(prelude)
    except cssselect.SelectorError:
        return ()
    translator = cssselect.HTMLTranslator()
    out = []
    for selector in parsed:
        if selector.pseudo_element is not None:
            continue  # ::before/::after text is not in the HTML
        node = selector.parsed_tree
        anchor, subject, simple = _anchor(node), _subject_name(node), _is_simple(node)
        xpath = ""  # not needed when the index finds the candidates (most rules)
        if not simple or (subject is None and anchor is None):
            try:
                xpath = translator.selector_to_xpath(selector)
            except cssselect.SelectorError:
                continue  # :hover and friends: state we cannot know
        compiled = _Compiled(node, xpath, subject, anchor, simple)
        out.append((compiled, selector.specificity()))
    return tuple(out)


def _simple_selector(selector: str) -> tuple[_Compiled, tuple[int, int, int]] | None:
    """The common case without cssselect's parser: tags, classes and ids joined by descendant
    or child combinators, whose elements the index finds (``.a > li``, ``#x .b``)."""
    parts = _SELECTOR_PARTS.split(_CHILD.sub(">", selector.strip()))
    node: Any = None
    counts = [0, 0, 0]
    for i, part in enumerate(parts):
        if i % 2:  # a combinator: white space for descendant, ">" for child
            continue
        m = _COMPOUND.fullmatch(part)
        if m is None or not part:
            return None
        tag, names = m.group(1), _COMPOUND_NAMES.findall(m.group(2))
        compound: Any = cssselect.parser.Element(None, None if tag in (None, "*") else tag)
        counts[2] += tag not in (None, "*")
        for name in names:
            if name[0] == ".":
                compound, counts[1] = cssselect.parser.Class(compound, name[1:]), counts[1] + 1
            else:
                compound, counts[0] = cssselect.parser.Hash(compound, name[1:]), counts[0] + 1
        combinator = ">" if i and parts[i - 1] == ">" else " "
        node = (
            compound
            if node is None
            else cssselect.parser.CombinedSelector(node, combinator, compound)
        )
    anchor, subject = _anchor(node), _subject_name(node)
    if subject is None and anchor is None:
        return None  # found by XPath: cssselect's translation
    return _Compiled(node, "", subject, anchor, True), (counts[0], counts[1], counts[2])


def _select(tree: Any, compiled: _Compiled, names: dict[str, list[Any]]) -> list[Any]:
    if compiled.simple and compiled.subject_name is not None:
        candidates = names.get(compiled.subject_name, [])
        return [el for el in candidates if _matches(el, compiled.tree)]
    if compiled.simple and compiled.anchor is not None:  # ".nav li": li inside each .nav
        name, tag = compiled.anchor
        seen: set[Any] = set()
        found = []
        for anchor in names.get(name, []):
            for el in anchor.iterdescendants(tag):
                if el not in seen and _matches(el, compiled.tree):
                    seen.add(el)
                    found.append(el)
        return found
    try:
        return list(tree.xpath(compiled.xpath))
    except lxml.etree.XPathError:  # a rule lxml cannot run is a rule we cannot judge
        return []


def _is_simple(node: Any) -> bool:
    if isinstance(node, cssselect.parser.Element):
        return True
    if isinstance(node, (cssselect.parser.Class, cssselect.parser.Hash)):
        return _is_simple(node.selector)
    if isinstance(node, cssselect.parser.CombinedSelector):
        return node.combinator in (" ", ">", "+", "~") and (
            _is_simple(node.selector) and _is_simple(node.subselector)
        )
    return False


def _anchor(node: Any) -> tuple[str, str] | None:
    """For ``A B`` or ``A > B`` with a plain tag ``B``: the class or id of ``A``, and ``B``."""
    if not isinstance(node, cssselect.parser.CombinedSelector) or node.combinator not in " >":
        return None
    if not isinstance(node.subselector, cssselect.parser.Element):
        return None
    name = _subject_name(node.selector)
    tag = (node.subselector.element or "*").lower()
    return (name, tag) if name is not None else None


def _subject_name(node: Any) -> str | None:
    if isinstance(node, cssselect.parser.CombinedSelector):
        return _subject_name(node.subselector)
    while isinstance(node, (cssselect.parser.Class, cssselect.parser.Hash)):
        if isinstance(node, cssselect.parser.Class):
            return "." + str(node.class_name).lower()
        return "#" + str(node.id).lower()
    return None


def _matches(el: Any, node: Any) -> bool:
    """Whether ``el`` matches a simple selector tree (tags, classes, ids, combinators)."""
    if isinstance(node, cssselect.parser.Element):
        return node.element in (None, "*") or el.tag == node.element.lower()
    if isinstance(node, cssselect.parser.Class):
        classes = (el.get("class") or "").lower().split()
        return str(node.class_name).lower() in classes and _matches(el, node.selector)
    if isinstance(node, cssselect.parser.Hash):
        same = (el.get("id") or "").lower() == str(node.id).lower()
        return same and _matches(el, node.selector)
    if not _matches(el, node.subselector):
        return False
    if node.combinator == " ":
        return any(_matches(a, node.selector) for a in el.iterancestors())
    if node.combinator == ">":
        parent = el.getparent()
        return parent is not None and _matches(parent, node.selector)
    siblings = [s for s in el.itersiblings(preceding=True) if isinstance(s.tag, str)]
    if node.combinator == "+":
        return bool(siblings) and _matches(siblings[0], node.selector)
    return any(_matches(s, node.selector) for s in siblings)


def drop_element(el: Any) -> None:
    """Remove an element or comment, keeping the text that follows it (its tail)."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)
