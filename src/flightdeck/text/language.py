"""The language of a text, by py3langid (langid.py's naive Bayes over byte n-grams, 97 languages).

Lui and Baldwin, "langid.py: An Off-the-shelf Language Identification Tool", ACL 2012. Reliable
on a page's worth of text, not on a few words: callers pass page text, never a lone question.
"""

from __future__ import annotations

import py3langid

SAMPLE_CHARS = 4000  # a page's opening is enough, and bounds the cost (~1 ms per 1,000 chars)


def detect_language(text: str) -> str:
    """ISO 639-1 code of the language of ``text`` (``"en"``, ``"zh"``...); ``""``: no letters."""
    sample = text[:SAMPLE_CHARS]
    if not any(c.isalpha() for c in sample):
        return ""
    code, _ = py3langid.classify(sample)  # the model loads once, on first use
    return str(code)
