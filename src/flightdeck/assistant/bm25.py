"""Okapi BM25 over passages' term counts (a small implementation; no index to maintain)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "does",
        "do",
        "did",
        "can",
        "about",
        "into",
        "than",
        "then",
        "there",
        "these",
        "those",
        "they",
        "them",
        "their",
        "our",
        "we",
        "he",
        "she",
        "his",
        "her",
        "not",
        "no",
    }
)


def terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def term_counts(text: str) -> dict[str, int]:
    return dict(Counter(terms(text)))


def bm25_scores(
    query: str, docs: Sequence[dict[str, int]], *, k1: float = 1.2, b: float = 0.75
) -> list[float]:
    """BM25 score of every document (a term-count map) for ``query``."""
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
