"""``python -m bench.assistant.run``: extraction F1 and the assistant's pre-model latency.

1. Extraction quality on the labelled set (30 pages): token precision, recall and F1 of the
   extracted text against the hand-made truth, next to two peers: plain trafilatura (without
   Flightdeck's hidden-element removal) and the naive "all text of <body>".
2. Server work before the model call (extract, chunk, rank, budget, render) on a 50,000-token
   page: cold (a page never seen) and follow-up (same page, new question), p50/p95, with BM25
   alone and with the MiniLM hybrid.
3. Time to the first SSE event of ``POST /v1/assistant/chat`` on a running server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import lxml.html
import trafilatura
from rich.console import Console
from rich.table import Table

from bench.assistant.labelled import labelled_pages
from flightdeck.assistant.context import PageCache, build_context
from flightdeck.assistant.embeddings import PassageEncoder
from flightdeck.assistant.extract import extract_html
from flightdeck.assistant.pages import PageInput
from flightdeck.core.settings import AssistantSettings, load_settings
from flightdeck.core.tokens import count_tokens
from flightdeck.testing.server import ServerThread

console = Console()
_WORD = re.compile(r"\w+")
RESULTS = Path(__file__).parents[1] / "results"


def prf(predicted: str, truth: str) -> tuple[float, float, float]:
    p, g = Counter(_WORD.findall(predicted.lower())), Counter(_WORD.findall(truth.lower()))
    overlap = sum((p & g).values())
    precision = overlap / max(1, sum(p.values()))
    recall = overlap / max(1, sum(g.values()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def extraction_quality() -> dict[str, Any]:
    systems = {
        "flightdeck": lambda h: extract_html(h).text,
        "trafilatura (plain)": lambda h: trafilatura.extract(h, include_comments=False) or "",
        "all body text": lambda h: lxml.html.document_fromstring(h).body.text_content(),
    }
    pages = labelled_pages()
    out: dict[str, Any] = {"pages": len(pages)}
    table = Table(title=f"Extraction quality on {len(pages)} labelled pages (token P/R/F1)")
    for col in ("system", "precision", "recall", "F1", "worst page"):
        table.add_column(col)
    for name, extract in systems.items():
        scores = [(page, prf(extract(html), truth)) for page, html, truth in pages]
        mean = [statistics.mean(s[1][i] for s in scores) for i in range(3)]
        worst = min(scores, key=lambda s: s[1][2])
        out[name] = {
            "precision": mean[0],
            "recall": mean[1],
            "f1": mean[2],
            "worst": [worst[0], worst[1][2]],
        }
        table.add_row(
            name,
            f"{mean[0]:.3f}",
            f"{mean[1]:.3f}",
            f"{mean[2]:.3f}",
            f"{worst[0]} ({worst[1][2]:.3f})",
        )
    console.print(table)
    return out


def big_page(target_tokens: int, nonce: int) -> str:
    """An article of about ``target_tokens`` tokens with navigation and a sidebar."""
    words = [
        "river",
        "harbour",
        "engine",
        "signal",
        "copper",
        "orchard",
        "lantern",
        "meadow",
        "ledger",
        "canvas",
        "thunder",
        "violet",
        "quarry",
        "saddle",
        "pepper",
        "garnet",
    ]
    sections, tokens, i = [], 0, 0
    while tokens < target_tokens:
        w = [words[(i * 7 + k) % len(words)] for k in range(16)]
        para = (
            f"Section {i} of report {nonce} explains the {w[0]} and the {w[1]} near the {w[2]}. "
            f"Engineers measured the {w[3]} {w[4]} every {i % 9 + 2} hours, noting how the "
            f"{w[5]} changed when the {w[6]} met the {w[7]}. " * 3
        )
        sections.append(f"<h2>Part {i}: {w[8]} and {w[9]}</h2><p>{para}</p>")
        tokens += count_tokens(para) + 6
        i += 1
    nav = "".join(f'<li><a href="/s{k}">Link {k}</a></li>' for k in range(40))
    return (
        f"<html><head><title>Report {nonce}</title></head><body><nav><ul>{nav}</ul></nav>"
        f"<article><h1>Field report {nonce}</h1>{''.join(sections)}</article>"
        f"<aside>Sidebar</aside><footer>Footer</footer></body></html>"
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def context_latency(runs: int, follow_ups: int, tokens: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    encoder = PassageEncoder()
    await encoder.warm()
    for label, enc in (("bm25", None), ("hybrid", encoder)):
        settings = AssistantSettings(embeddings=enc is not None)
        cache = PageCache()
        cold: list[float] = []
        follow: list[float] = []
        background: list[float] = []
        pages = [big_page(tokens, 1000 * (label == "hybrid") + n) for n in range(runs)]
        # One unmeasured page first: process start-up (imports, caches) is not per-request work.
        warm = PageInput("https://bench.test/warm", "", html=big_page(tokens, 999 + len(label)))
        await build_context(
            "warm up",
            "chat",
            [await asyncio.to_thread(cache.process, warm, 0)],
            [],
            settings=settings,
            model="m",
            prompt=None,
            encoder=enc,
        )
        if enc is not None:
            await enc.idle()
        for n, html in enumerate(pages):
            page = PageInput(f"https://bench.test/{n}", "", html=html)
            start = time.perf_counter()
            processed = await asyncio.to_thread(cache.process, page, 0)
            await build_context(
                "When did the engineers measure the copper orchard?",
                "chat",
                [processed],
                [],
                settings=settings,
                model="m",
                prompt=None,
                encoder=enc,
            )
            cold.append(time.perf_counter() - start)
            if enc is not None:
                start = time.perf_counter()
                await enc.idle()  # the page's vectors, encoded in the background
                background.append(time.perf_counter() - start)
            for k in range(follow_ups):
                start = time.perf_counter()
                processed = await asyncio.to_thread(cache.process, page, 0)
                await build_context(
                    f"What changed in section {k * 13} of report {n}?",
                    "chat",
                    [processed],
                    [],
                    settings=settings,
                    model="m",
                    prompt=None,
                    encoder=enc,
                )
                follow.append(time.perf_counter() - start)
        out[label] = {
            "page_tokens": tokens,
            "cold_ms": {"p50": 1000 * statistics.median(cold), "p95": 1000 * pct(cold, 0.95)},
            "follow_up_ms": {
                "p50": 1000 * statistics.median(follow),
                "p95": 1000 * pct(follow, 0.95),
            },
            "runs": len(cold),
            "follow_ups": len(follow),
            "background_encode_s": statistics.median(background) if background else None,
        }
    table = Table(title=f"Pre-model server work, {tokens}-token page (ms)")
    for col in ("ranking", "cold p50", "cold p95", "follow-up p50", "follow-up p95"):
        table.add_column(col)
    for label, r in out.items():
        if r["background_encode_s"] is not None:
            console.print(
                f"{label}: page vectors encoded in the background in "
                f"{r['background_encode_s']:.1f} s (median)"
            )
        table.add_row(
            label,
            f"{r['cold_ms']['p50']:.0f}",
            f"{r['cold_ms']['p95']:.0f}",
            f"{r['follow_up_ms']['p50']:.1f}",
            f"{r['follow_up_ms']['p95']:.1f}",
        )
    console.print(table)
    return out


def first_event_latency(requests: int, tmp: Path) -> dict[str, Any]:
    settings = load_settings(
        None,
        {},
        defaults={
            "home": str(tmp),
            "server": {"port": 0},
            "models": [{"name": "local/extractive", "provider": "local-extractive"}],
            "assistant": {"embeddings": False},
        },
    )
    html = big_page(5000, 7)
    times = []
    with ServerThread(settings) as server:
        for n in range(requests):
            body = json.dumps(
                {
                    "model": "local/extractive",
                    "question": f"copper {n}?",
                    "pages": [{"url": "u", "html": html}],
                }
            ).encode()
            req = urllib.request.Request(
                server.url + "/v1/assistant/chat",
                data=body,
                headers={"Authorization": f"Bearer {server.api_key}"},
            )
            start = time.perf_counter()
            with urllib.request.urlopen(req) as response:
                response.readline()  # "event: status"
                times.append(time.perf_counter() - start)
                response.read()
    result = {
        "p50_ms": 1000 * statistics.median(times),
        "p95_ms": 1000 * pct(times, 0.95),
        "requests": requests,
    }
    console.print(f"first SSE event: p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8, help="cold pages per ranking mode")
    parser.add_argument("--follow-ups", type=int, default=5, help="questions per page")
    parser.add_argument("--tokens", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=20, help="first-event requests")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    results = {
        "extraction": extraction_quality(),
        "context": asyncio.run(context_latency(args.runs, args.follow_ups, args.tokens)),
        "first_event": first_event_latency(args.requests, RESULTS / "assistant-home"),
    }
    (RESULTS / "assistant.json").write_text(json.dumps(results, indent=2))
    console.print(f"written to {RESULTS / 'assistant.json'}")


if __name__ == "__main__":
    main()
