"""``python -m bench.assistant.answers``: ranking across languages and the offline model's answers.

1. Ranking (``multilingual.py``: 7 languages, 39 questions labelled with their section): is the
   answering passage ranked first (top-1), and its mean reciprocal rank, for BM25 over ``\\w+``
   words (Flightdeck before CJK-aware terms), BM25 over ``flightdeck.text.terms``, each encoder
   alone, and the hybrid the assistant now runs (English pages: MiniLM; others: the multilingual
   encoder). ``--no-dense`` skips the encoders.
2. Answers of ``local/extractive`` through the assistant's whole context path (extract, chunk,
   rank, budget, every prompt version, the model, the citation check) on ``questions.py``:
   answer accuracy (the expected phrase quoted), on-topic share (quoted sentences from the
   labelled section), intact share (quoted sentences equal to a hand-split sentence: no heading
   glued on, no cut at "Dr."), leaks (prompt structure or datamarks in an answer), and for
   summarize / key points: identical answers and sections covered.
   ``--only answers`` runs part 2 alone with APIs that main also has, so
   ``PYTHONPATH=<main>/src python -m bench.assistant.answers --only answers`` measures before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.assistant.multilingual import ARTICLES
from bench.assistant.questions import PAGE_BY_TITLE, PAGES, QUESTIONS, Page
from flightdeck.assistant.citations import CitationChecker
from flightdeck.assistant.context import build_context, process_page
from flightdeck.assistant.pages import PageInput
from flightdeck.assistant.prompts import versions
from flightdeck.core.settings import AssistantSettings
from flightdeck.providers.local_extractive import answer

console = Console(width=150)
RESULTS = Path(__file__).parents[1] / "results"
_CITATION = re.compile(r"\s*\[\d+\]")
_LEAK = re.compile(r"<<<|>>>|</?page|(?<!\S)\^\S")
_OLD_WORD = re.compile(r"[^\W_]+")


async def _answer(page: Page | list[Page], question: str, mode: str, version: str) -> str:
    pages = page if isinstance(page, list) else [page]
    processed = [
        process_page(PageInput(f"https://bench.test/{i}", "", html=p.html()), i)
        for i, p in enumerate(pages)
    ]
    settings = AssistantSettings(embeddings=False)
    context = await build_context(
        question,
        mode,  # type: ignore[arg-type]
        processed,
        [],
        settings=settings,
        model="local/extractive",
        prompt=version,
        encoder=None,
    )
    checker = CitationChecker({s.n for s in context.sources})
    shown, _ = checker.feed(answer(context.messages))
    rest, _ = checker.finish()
    return shown + rest


def _quoted(text: str) -> list[str]:
    """The sentences an answer quotes: the pieces before each citation marker."""
    pieces = [p.strip() for p in _CITATION.split(text)]
    return [re.sub(r"^(- |Page \d+: )", "", p) for p in pieces if p]


async def answer_quality() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for version in versions():
        correct = on_topic = answer_quotes = intact = quoted_total = leaks = 0
        for q in QUESTIONS:
            page = PAGE_BY_TITLE[q.page]
            text = await _answer(page, q.question, "chat", version)
            correct += q.expect in text
            leaks += bool(_LEAK.search(text))
            section = next(s for s in page.sections if s.heading == q.section)
            for sentence in _quoted(text):
                answer_quotes += 1
                quoted_total += 1
                on_topic += sentence in section.sentences
                intact += sentence in page.sentences()
        identical = covered = sections = 0
        for page in PAGES:
            summary = await _answer(page, "", "summarize", version)
            points = await _answer(page, "", "key_points", version)
            leaks += bool(_LEAK.search(summary)) + bool(_LEAK.search(points))
            identical += _quoted(summary) == _quoted(points)
            hit = {s.heading for s in page.sections for q in _quoted(points) if q in s.sentences}
            covered += len(hit)
            sections += min(len(page.sections), 6)
            for sentence in _quoted(summary) + _quoted(points):
                quoted_total += 1
                intact += sentence in page.sentences()
        compare = await _answer(PAGES[:2], "", "compare", version)
        leaks += bool(_LEAK.search(compare))
        out[version] = {
            "questions": len(QUESTIONS),
            "accuracy": correct / len(QUESTIONS),
            "on_topic": on_topic / max(1, answer_quotes),
            "answers_with_leaks": leaks,
            "quoted_sentences": quoted_total,
            "intact": intact / max(1, quoted_total),
            "summary_equals_key_points": identical,
            "key_point_section_coverage": covered / max(1, sections),
            "pages": len(PAGES),
        }
    table = Table(
        title=f"local/extractive answers ({len(QUESTIONS)} questions, {len(PAGES)} pages)"
    )
    for col in (
        "prompt",
        "accuracy",
        "on-topic quotes",
        "intact sentences",
        "leaks",
        "sum = kp",
        "kp coverage",
    ):
        table.add_column(col)
    for version, r in out.items():
        table.add_row(
            version,
            f"{r['accuracy']:.2f}",
            f"{r['on_topic']:.2f}",
            f"{r['intact']:.2f} of {r['quoted_sentences']}",
            str(r["answers_with_leaks"]),
            f"{r['summary_equals_key_points']}/{r['pages']}",
            f"{r['key_point_section_coverage']:.2f}",
        )
    console.print(table)
    return out


def _ranks(scores: list[float], gold: int) -> int:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return order.index(gold) + 1


def ranking_quality(dense: bool) -> dict[str, Any]:
    # Imported here: `--only answers` must also run on code from before flightdeck.text existed.
    from flightdeck.assistant.embeddings import PassageEncoder
    from flightdeck.encoders.multilingual import LANGUAGES
    from flightdeck.text.bm25 import bm25_scores
    from flightdeck.text.terms import STOPWORDS

    def words(text: str) -> list[str]:
        return [w for w in _OLD_WORD.findall(text.lower()) if w not in STOPWORDS]

    def words_bm25(
        question: str, texts: list[str], k1: float = 1.2, b: float = 0.75
    ) -> list[float]:
        """BM25 as before this change: terms are ``\\w+`` runs (a Chinese sentence is one)."""
        docs = [Counter(words(t)) for t in texts]
        lengths = [sum(d.values()) for d in docs]
        avg = statistics.mean(lengths) or 1.0
        scores = []
        for d, length in zip(docs, lengths, strict=True):
            s = 0.0
            for t in set(words(question)) & d.keys():
                df = sum(1 for e in docs if t in e)
                idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
                s += idf * d[t] * (k1 + 1) / (d[t] + k1 * (1 - b + b * length / avg))
            scores.append(s)
        return scores

    encoders = {"MiniLM": PassageEncoder(), "USE multilingual": PassageEncoder.multilingual()}
    systems = ["BM25 words (before)", "BM25 terms"]
    if dense:
        systems += [*encoders, "hybrid (routed)"]
    ranks: dict[str, dict[str, list[int]]] = {s: {} for s in systems}
    for article in ARTICLES:
        page = process_page(PageInput("https://bench.test/", "", html=article.html()), 0)
        texts = [p.text if p.heading in p.text else f"{p.heading}\n{p.text}" for p in page.passages]
        for question, heading in article.questions:
            gold = next(i for i, p in enumerate(page.passages) if p.heading == heading)
            scores = {
                "BM25 words (before)": words_bm25(question, texts),
                "BM25 terms": bm25_scores(question, [p.terms for p in page.passages]),
            }
            if dense:
                for name, encoder in encoders.items():
                    vectors = encoder.encode_now([question, *texts])
                    scores[name] = [float(v) for v in vectors[1:] @ vectors[0]]
                routed = "MiniLM" if page.language == "en" else "USE multilingual"
                if page.language not in LANGUAGES:
                    routed = "BM25 terms"
                scores["hybrid (routed)"] = [
                    0.5 * a + 0.5 * b
                    for a, b in zip(
                        _minmax(scores["BM25 terms"]), _minmax(scores[routed]), strict=True
                    )
                ]
            for name in systems:
                ranks[name].setdefault(article.language, []).append(_ranks(scores[name], gold))
    table = Table(title="Ranking: answering passage first (top-1) and MRR, per language")
    table.add_column("system")
    for article in ARTICLES:
        table.add_column(article.language)
    table.add_column("all")
    out: dict[str, Any] = {}
    for name in systems:
        row, every = [], []
        for article in ARTICLES:
            r = ranks[name][article.language]
            every += r
            row.append(f"{sum(x == 1 for x in r)}/{len(r)} {statistics.mean(1 / x for x in r):.2f}")
        top1, mrr = sum(x == 1 for x in every), statistics.mean(1 / x for x in every)
        table.add_row(name, *row, f"{top1}/{len(every)} {mrr:.3f}")
        out[name] = {"top1": top1, "questions": len(every), "mrr": mrr, "ranks": ranks[name]}
    console.print(table)
    return out


def _minmax(values: list[float]) -> list[float]:
    lo, hi = min(values), max(values)
    return [0.0 if hi - lo < 1e-12 else (v - lo) / (hi - lo) for v in values]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["answers", "ranking"])
    parser.add_argument("--no-dense", action="store_true", help="skip the encoders")
    parser.add_argument("--out", type=Path, default=RESULTS / "answers.json")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.only != "answers":
        results["ranking"] = ranking_quality(dense=not args.no_dense)
    if args.only != "ranking":
        results["answers"] = asyncio.run(answer_quality())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    console.print(f"written to {args.out}")


if __name__ == "__main__":
    main()
