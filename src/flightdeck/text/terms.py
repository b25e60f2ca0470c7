"""Index terms of a text, for every script: words where words are spaced, bigrams where not.

Chinese, Japanese, Thai, Lao, Khmer, Myanmar and Tibetan are written without spaces between
words, and Korean glues particles to its words, so a "word" found by ``\\w+`` is a whole phrase
or sentence that no question shares. Runs of those scripts become overlapping character bigrams,
the standard baseline of CJK retrieval (Lucene's ``CJKBigramFilter``; Kwok, "Comparing
representations in Chinese information retrieval", SIGIR 1997), plus every Han character on its
own, because one ideograph is often a whole word (``吃`` "eat", ``高`` "high"), as Lucene's
``outputUnigrams`` option does. On the labelled set in ``bench/assistant/multilingual.py`` this
beat jieba's word segmentation on Chinese and needs no dictionary for the other scripts
(docs/benchmarks.md). Other scripts give lowercased words without English stop words, with
plural and third-person "s" endings removed (Harman's S stemmer). Text is NFKC-normalised first,
so full-width Latin letters and digits match their ASCII forms.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# Scripts written without spaces between words (and Hangul, whose words carry particles).
UNSPACED = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u0f00-\u0fff"  # Tibetan
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff"  # Hangul Jamo
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # half-width Katakana
    "\U00020000-\U0003134f"  # CJK extensions B-G
)
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN = re.compile(rf"(?P<unspaced>[{UNSPACED}]+)|(?P<word>[^\W_{UNSPACED}]+)")
_UNSPACED_CHAR = re.compile(rf"[{UNSPACED}]")
_HAN_CHAR = re.compile(rf"[{HAN}]")

STOPWORDS = frozenset(
    """a about after all also an and any are as at be been being but by can could d did do does
    for from had has have he her here his how i if in into is it its just ll m me more most my
    no not of on or our out over re s she should so some such t than that the their them then
    there these they this those to too under up ve very was we were what when where which while
    who whom why will with would you your""".split()  # noqa: SIM905
)


def terms(text: str) -> list[str]:
    """The index terms of ``text`` in order: words, or character bigrams of unspaced scripts.

    ``terms("Sea otters use rocks")`` is ``["sea", "otters", "use", "rocks"]``;
    ``terms("熊猫吃竹")`` is ``["熊猫", "猫吃", "吃竹", "熊", "猫", "吃", "竹"]``.
    """
    out: list[str] = []
    for m in _TOKEN.finditer(unicodedata.normalize("NFKC", text).casefold()):
        run = m.group("unspaced")
        if run is None:
            word = m.group("word")
            if word not in STOPWORDS:
                out.append(_s_stem(word))
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
            out.extend(_HAN_CHAR.findall(run) if len(run) > 1 or _HAN_CHAR.match(run) else [run])
    return out


def _s_stem(word: str) -> str:
    """Harman's "S" stemmer (JASIS 1991), the minimal English stemmer of Lucene: plurals and
    third persons meet their stem (``pandas`` -> ``panda``, ``eats`` -> ``eat``)."""
    if len(word) <= 3 or not word.endswith("s") or word.endswith(("us", "ss")):
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    return word[:-1]


def term_counts(text: str) -> dict[str, int]:
    """``terms(text)`` as a term -> count map (a BM25 document)."""
    return dict(Counter(terms(text)))


def is_unspaced(text: str, share: float = 0.3) -> bool:
    """Whether at least ``share`` of the letters of ``text`` are in an unspaced script."""
    letters = sum(1 for c in text if c.isalpha())
    return bool(letters) and len(_UNSPACED_CHAR.findall(text)) >= share * letters
