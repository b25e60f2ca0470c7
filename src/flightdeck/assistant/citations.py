"""Checking the model's ``[n]`` citations against the passages actually sent.

The answer streams in pieces, so a marker may arrive split (``[1`` then ``2]``); the checker
holds back an unfinished ``[...`` until it closes. Valid markers stay in the text and are
reported once each; invalid ones (numbers that were not sent) are removed from the text and
listed, so no citation can point outside the sent passages.

The prompt's own structure never reaches the user either: fence lines (``<<<PAGES ...>>>``,
``<<<END PAGES ...>>>``), the request's fence boundary and the page wrappers of the templates
(``<page-1>``, ``<page number="1">``, ``</page>``) are removed from the answer, whatever model
copied them; an unfinished ``<...`` is held back until it closes, like a citation marker.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from flightdeck.assistant.spotlight import strip_datamarks

_MARKER = re.compile(r"\[(\s*\d{1,4}\s*(?:[,;]\s*\d{1,4}\s*)*)\]")
# An unfinished marker, a lone datamark whose word has not arrived yet, or an unfinished tag.
_OPEN_TAIL = re.compile(r"(?:\[[\d,;\s]{0,24}|(?<!\S)\^|<{1,3}[^<>\n]{0,120})$")
_INTERNALS = re.compile(
    r"[ \t]*(?:<<<\s*(?:END\s+)?PAGES\b[^<>\n]*>>>|</?page\b[^<>\n]*>)", re.IGNORECASE
)


@dataclass
class CitationChecker:
    """Checks ``[n]`` citations as text streams: valid ones kept, the rest and prompt internals
    removed."""

    valid: Collection[int]
    boundary: str = ""  # the request's fence boundary, removed wherever it appears
    cited: list[int] = field(default_factory=list)
    invalid: list[int] = field(default_factory=list)
    _pending: str = ""

    def feed(self, piece: str) -> tuple[str, list[int]]:
        """Text safe to show now, and newly cited valid numbers."""
        text = self._pending + piece
        tail = _OPEN_TAIL.search(text)
        if tail:
            self._pending, text = text[tail.start() :], text[: tail.start()]
        else:
            self._pending = ""
        return self._check(text)

    def finish(self) -> tuple[str, list[int]]:
        text, self._pending = self._pending, ""
        return self._check(text)

    def _check(self, text: str) -> tuple[str, list[int]]:
        new: list[int] = []

        def replace(m: re.Match[str]) -> str:
            numbers = [int(x) for x in re.findall(r"\d+", m.group(1))]
            good = [n for n in numbers if n in self.valid]
            for n in numbers:
                if n not in self.valid and n not in self.invalid:
                    self.invalid.append(n)
            for n in good:
                if n not in self.cited:
                    self.cited.append(n)
                    new.append(n)
            return "".join(f"[{n}]" for n in good)

        text = _INTERNALS.sub("", strip_datamarks(text))
        if self.boundary:
            text = text.replace(self.boundary, "")
        return _MARKER.sub(replace, text), new
