"""Hybrid ranking: BM25 over every passage, re-scored with MiniLM cosine on the top candidates.

Scores of both signals are min-max normalised and mixed; passages outside the dense candidate
set keep their (scaled) BM25 score, so the dense model only reorders what lexical search found
plausible and the cost stays bounded on long pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flightdeck.assistant.bm25 import bm25_scores
from flightdeck.assistant.embeddings import PassageEncoder
from flightdeck.assistant.pages import Passage

DENSE_WEIGHT = 0.5


@dataclass(frozen=True, slots=True)
class Ranked:
    passage: Passage
    page: int
    score: float


async def rank_passages(
    question: str,
    pages: Sequence[Sequence[Passage]],
    *,
    encoder: PassageEncoder | None,
    dense_candidates: int,
) -> list[Ranked]:
    """Every passage of every page with a score in [0, 1], best first."""
    flat = [(i, p) for i, passages in enumerate(pages) for p in passages]
    if not flat:
        return []
    lexical = _normalise(bm25_scores(question, [p.terms for _, p in flat]))
    scores = list(lexical)
    if encoder is not None and dense_candidates > 0 and question.strip():
        order = sorted(range(len(flat)), key=lambda k: -lexical[k])
        # Candidates: the best lexical matches plus each page's opening (pages with no shared
        # words still get a chance).
        chosen = list(dict.fromkeys(order[:dense_candidates] + _openings(flat)))
        items = [("q:" + question, question)] + [
            (flat[k][1].id, _embed_text(flat[k][1])) for k in chosen
        ]
        vectors = await encoder.vectors(items)
        q = vectors[0]
        dense = _normalise([float(np.dot(q, v)) for v in vectors[1:]])
        for k, d in zip(chosen, dense, strict=True):
            scores[k] = (1 - DENSE_WEIGHT) * lexical[k] + DENSE_WEIGHT * d
        others = set(range(len(flat))) - set(chosen)
        for k in others:
            scores[k] = (1 - DENSE_WEIGHT) * lexical[k]
    ranked = [Ranked(p, i, s) for (i, p), s in zip(flat, scores, strict=True)]
    ranked.sort(key=lambda r: (-r.score, r.page, r.passage.index))
    return ranked


def _openings(flat: Sequence[tuple[int, Passage]]) -> list[int]:
    return [k for k, (_, p) in enumerate(flat) if p.index == 0]


def _embed_text(p: Passage) -> str:
    return p.text if not p.heading or p.heading in p.text else f"{p.heading}\n{p.text}"


def _normalise(values: Sequence[float]) -> list[float]:
    if not values:
        return []
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        return [0.0 if hi <= 0 else 1.0 for _ in values]
    return [(v - lo) / (hi - lo) for v in values]
