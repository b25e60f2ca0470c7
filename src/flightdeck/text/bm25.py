"""Okapi BM25 over term-count maps (a small implementation; no index to maintain).

Robertson and Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond" (2009), with
the non-negative idf ``log(1 + (N - df + 0.5) / (df + 0.5))`` of Lucene.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from flightdeck.text.terms import terms


def bm25_scores(
    query: str, docs: Sequence[dict[str, int]], *, k1: float = 1.2, b: float = 0.75
) -> list[float]:
    """BM25 score (>= 0) of every document, a term-count map from ``term_counts``, for ``query``.

    The query's terms count once each; an empty query or document list gives zeros / ``[]``.
    """
    if not docs:
        return []
    q = set(terms(query))
    lengths = [sum(d.values()) for d in docs]
    avg = (sum(lengths) / len(docs)) or 1.0
    n = len(docs)
    df = {t: sum(1 for d in docs if t in d) for t in q}
    idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items() if f}
    scores = []
    for doc, length in zip(docs, lengths, strict=True):
        s = 0.0
        for t, w in idf.items():
            tf = doc.get(t, 0)
            if tf:
                s += w * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg))
        scores.append(s)
    return scores
