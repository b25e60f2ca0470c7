"""Fitting passages into a model's token budget, and saying how much of each page fit.

Everything goes in when it fits. Otherwise short pages go in whole, then passages are taken
best-ranked first, the top few with their neighbours for context; in ``compare`` mode each page
is first guaranteed an equal share. Nothing is cut silently: ``PageUsage`` reports the share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flightdeck.assistant.pages import Passage
from flightdeck.assistant.ranking import Ranked

NEIGHBOURS_FOR_TOP = 3


@dataclass(frozen=True, slots=True)
class PageUsage:
    """How much of one page made it into the prompt: passages and tokens, used and total."""

    page: int
    passages_total: int
    passages_used: int
    tokens_total: int
    tokens_used: int
    chars_total: int
    chars_used: int
    all_passages: bool
    source_pages: int = 0  # pages of a PDF (0: not a PDF)
    unreadable: tuple[int, ...] = ()  # PDF page numbers whose text could not be read

    @property
    def share(self) -> float:
        """Share of the source sent: of its text, times the share of its pages that were read
        (an unreadable page counts as a page's worth of text not sent)."""
        sent = 1.0 if not self.chars_total else self.chars_used / self.chars_total
        if self.source_pages:
            sent *= (self.source_pages - len(self.unreadable)) / self.source_pages
        return round(sent, 4)

    @property
    def whole(self) -> bool:
        return self.all_passages and not self.unreadable

    def as_dict(self) -> dict[str, object]:
        return {
            "page": self.page,
            "passages_total": self.passages_total,
            "passages_used": self.passages_used,
            "tokens_total": self.tokens_total,
            "tokens_used": self.tokens_used,
            "share": self.share,
            "whole": self.whole,
            "source_pages": self.source_pages or None,
            "unreadable_pages": list(self.unreadable),
        }


@dataclass(frozen=True, slots=True)
class Selection:
    """Chosen passages per page (in document order) and the usage of each page."""

    chosen: list[list[Passage]]
    scores: dict[str, float]
    usage: list[PageUsage]


def fit_budget(
    pages: Sequence[Sequence[Passage]],
    ranked: Sequence[Ranked],
    budget: int,
    *,
    whole_page_tokens: int,
    per_page_share: bool = False,
) -> Selection:
    picked: list[set[int]] = [set() for _ in pages]
    spent = 0
    totals = [sum(p.tokens for p in ps) for ps in pages]

    def take(page: int, p: Passage, limit: int) -> bool:
        nonlocal spent
        if p.index in picked[page]:
            return True
        if spent + p.tokens > limit:
            return False
        picked[page].add(p.index)
        spent += p.tokens
        return True

    if sum(totals) <= budget:
        for i, ps in enumerate(pages):
            picked[i] = {p.index for p in ps}
    else:
        for i, ps in enumerate(pages):  # short pages go in whole
            if totals[i] <= whole_page_tokens and spent + totals[i] <= budget:
                for p in ps:
                    take(i, p, budget)
        if per_page_share and len(pages) > 1:
            share = budget // len(pages)
            for i in range(len(pages)):
                start = spent
                for r in (r for r in ranked if r.page == i):
                    take(r.page, r.passage, min(budget, start + share))
        for rank, r in enumerate(ranked):
            if take(r.page, r.passage, budget) and rank < NEIGHBOURS_FOR_TOP:
                ps = pages[r.page]
                for j in (r.passage.index - 1, r.passage.index + 1):
                    if 0 <= j < len(ps):
                        take(r.page, ps[j], budget)
    scores = {r.passage.id: r.score for r in ranked}
    chosen = [[p for p in ps if p.index in picked[i]] for i, ps in enumerate(pages)]
    usage = [
        PageUsage(
            page=i,
            passages_total=len(ps),
            passages_used=len(chosen[i]),
            tokens_total=totals[i],
            tokens_used=sum(p.tokens for p in chosen[i]),
            chars_total=sum(len(p.text) for p in ps),
            chars_used=sum(len(p.text) for p in chosen[i]),
            all_passages=len(chosen[i]) == len(ps),
        )
        for i, ps in enumerate(pages)
    ]
    return Selection(chosen, scores, usage)
