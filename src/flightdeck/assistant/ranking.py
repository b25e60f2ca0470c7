"""Hybrid ranking: BM25 over every passage, re-scored with MiniLM cosine on the top candidates.

Scores of both signals are min-max normalised and mixed; passages outside the dense candidate
set keep their (scaled) BM25 score, so the dense model only reorders what lexical search found
plausible and the cost stays bounded on long pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flightdeck.assistant.embeddings import PassageEncoder
from flightdeck.assistant.pages import Passage
from flightdeck.text.bm25 import bm25_scores

DENSE_WEIGHT = 0.5


@dataclass(frozen=True, slots=True)
class Ranked:
    """A passage with its page and ranking score."""

    passage: Passage
    page: int
    score: float


async def rank_passages(
    question: str,
    pages: Sequence[Sequence[Passage]],
    *,
    encoder: PassageEncoder | None,
    dense_candidates: int,
    wait_for_vectors: bool = True,
) -> list[Ranked]:
    """Every passage of every page with a score in [0, 1], best first.

    Dense scores cover every passage when the page's vectors are all cached (a follow-up),
    else the BM25 top ``dense_candidates`` plus each page's opening. With
    ``wait_for_vectors=False`` a page whose vectors are missing is ranked by BM25 alone and
    encoded in the background, so the first question never waits for the model.
    """
    flat = [(i, p) for i, passages in enumerate(pages) for p in passages]
    if not flat:
        return []
    lexical = _normalise(bm25_scores(question, [p.terms for _, p in flat]))
    scores = list(lexical)
    if encoder is not None and dense_candidates > 0 and question.strip():
        everything = [(p.id, _embed_text(p)) for _, p in flat]
        if encoder.has_all([k for k, _ in everything]):
            chosen = list(range(len(flat)))
        else:
            order = sorted(range(len(flat)), key=lambda k: -lexical[k])
            chosen = list(dict.fromkeys(order[:dense_candidates] + _openings(flat)))
        if wait_for_vectors or encoder.has_all([everything[k][0] for k in chosen]):
            vectors = await encoder.vectors(
                [("q:" + question, question)] + [everything[k] for k in chosen]
            )
            dense = _normalise([float(v) for v in np.stack(vectors[1:]) @ vectors[0]])
            for k in range(len(flat)):
                scores[k] = (1 - DENSE_WEIGHT) * lexical[k]
            for k, d in zip(chosen, dense, strict=True):
                scores[k] += DENSE_WEIGHT * d
        if not encoder.has_all([k for k, _ in everything]):
            encoder.schedule(everything)
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
