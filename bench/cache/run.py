"""Response cache benchmarks.

    # wrong hits per threshold on labelled pairs; picks the least threshold whose wrong hits
    # stay <= 2% of hits on the --tune sets, then reports the --eval sets at it
    python -m bench.cache.run quality --tune DATA/stsb-sts-train.csv DATA/stsb-sts-dev.csv \
        --eval DATA/stsb-sts-test.csv DATA/sts16-question-question.input.txt \
        DATA/msr_paraphrase_test.txt

    # semantic lookup latency (embedding excluded) at 100,000 prompts in one partition, one core:
    # wall time, and the thread's CPU time (what one core spends, whatever else the machine runs)
    python -m bench.cache.run lookup --entries 100000

How a quality run counts. A hit is wrong when it would serve the answer to a question of
another meaning. Two views:
- pairs (the table the threshold is chosen on): each labelled pair alone in a partition, its
  first sentence stored and its second asked. Hit: similarity >= threshold. Correct if the pair
  is labelled same-meaning, wrong if not. Hit rate = correct hits / same-meaning pairs.
- crowded: every first sentence of the set stored in one partition, every second sentence
  asked. A hit on the query's own partner is correct or wrong by its label; a hit on another
  stored sentence has no label ("other": often a paraphrase too, since STS repeats sentences
  across pairs, but not known to be one). Queries identical to a stored sentence are left out:
  they are exact hits, not semantic ones.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.table import Table

from bench.cache.pairs import Pair, load_pairs
from flightdeck.cache import MemoryBackend, PartitionKey, ResponseCache, SemanticIndex
from flightdeck.core.cache_settings import CacheSettings

console = Console()
THRESHOLDS = [round(0.80 + 0.005 * i, 3) for i in range(40)]
PARTITION = PartitionKey("bench", "group", None, "context")


@dataclass
class Row:
    threshold: float
    queries: int
    same_pairs: int
    hits: int
    correct: int
    wrong: int
    other: int = 0

    @property
    def wrong_share(self) -> float:
        return self.wrong / self.hits if self.hits else 0.0

    @property
    def hit_rate(self) -> float:
        return self.correct / self.same_pairs if self.same_pairs else 0.0


# ---- quality ------------------------------------------------------------------------------


def encode(texts: list[str], cache_dir: Path) -> NDArray[np.float32]:
    """MiniLM vectors of ``texts``, kept in ``cache_dir`` by content hash for reruns."""
    digest = hashlib.sha256("\x1f".join(texts).encode()).hexdigest()[:24]
    path = cache_dir / f"minilm-{digest}.npy"
    if path.exists():
        return np.load(path)
    from flightdeck.encoders.sentence import load_sentence_model

    model = load_sentence_model()
    vectors = model.encode(texts, batch_size=64, normalize_embeddings=True)
    vectors = np.asarray(vectors, np.float32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


Outcome = tuple[float, str]  # (similarity, "correct" | "wrong" | "other")


def outcomes(pairs: list[Pair], cache_dir: Path) -> tuple[list[Outcome], list[Outcome]]:
    """Per query, in the pairs view and in the crowded view (which uses the cache's own
    SemanticIndex, one partition)."""
    stored = list(dict.fromkeys(p.stored for p in pairs))
    vectors = encode(stored + [p.query for p in pairs], cache_dir)
    row_of = {text: n for n, text in enumerate(stored)}
    exact = {_norm(t) for t in stored}
    index = SemanticIndex(CacheSettings(semantic_max_entries=1_000_000), clock=lambda: 0.0)
    for n, text in enumerate(stored):
        index.add(PARTITION, vectors[n], text, expires_at=1.0)
    pairwise, crowded = [], []
    for pair, query in zip(pairs, vectors[len(stored) :], strict=True):
        if _norm(pair.query) == _norm(pair.stored):
            continue
        verdict = "correct" if pair.same else "wrong"
        pairwise.append((float(vectors[row_of[pair.stored]] @ query), verdict))
        if _norm(pair.query) in exact:
            continue
        match = index.search(PARTITION, query, -1.0)
        assert match is not None
        crowded.append((match.similarity, verdict if match.digest == pair.stored else "other"))
    return pairwise, crowded


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def table_rows(found: list[Outcome], same_pairs: int) -> list[Row]:
    rows = []
    for t in THRESHOLDS:
        verdicts = [v for sim, v in found if sim >= t]
        rows.append(
            Row(
                t,
                len(found),
                same_pairs,
                len(verdicts),
                verdicts.count("correct"),
                verdicts.count("wrong"),
                verdicts.count("other"),
            )
        )
    return rows


def merge(tables: list[list[Row]]) -> list[Row]:
    merged = []
    for rows in zip(*tables, strict=True):
        merged.append(
            Row(
                rows[0].threshold,
                sum(r.queries for r in rows),
                sum(r.same_pairs for r in rows),
                sum(r.hits for r in rows),
                sum(r.correct for r in rows),
                sum(r.wrong for r in rows),
                sum(r.other for r in rows),
            )
        )
    return merged


def choose(rows: list[Row], max_wrong: float) -> Row:
    """The least threshold from which on every threshold keeps wrong hits <= max_wrong."""
    chosen = rows[-1]
    for row in reversed(rows):
        if row.wrong_share > max_wrong:
            break
        chosen = row
    return chosen


def show(title: str, rows: list[Row], mark: float | None = None) -> None:
    crowded = any(r.other for r in rows)
    table = Table(title=title)
    names = ["threshold", "queries", "same", "hits", "correct", "wrong", "wrong/hits"]
    names += ["other", "hit rate"] if crowded else ["hit rate"]
    for name in names:
        table.add_column(name, justify="right")
    for r in rows:
        cells = [f"{r.threshold:.3f}", str(r.queries), str(r.same_pairs), str(r.hits)]
        cells += [str(r.correct), str(r.wrong), f"{100 * r.wrong_share:.1f}%"]
        cells += [str(r.other)] if crowded else []
        cells.append(f"{100 * r.hit_rate:.1f}%")
        table.add_row(*cells, style="bold" if r.threshold == mark else None)
    console.print(table)


def run_quality(args: argparse.Namespace) -> dict[str, object]:
    def tables(paths: Sequence[Path]) -> dict[str, tuple[list[Row], list[Row]]]:
        out = {}
        for path in paths:
            pairs = load_pairs(path)
            pairwise, crowded = outcomes(pairs, args.embeddings)
            same = sum(v == "correct" for _, v in pairwise)
            exact = {_norm(p.stored) for p in pairs}
            same_crowded = sum(p.same for p in pairs if _norm(p.query) not in exact)
            out[path.name] = (table_rows(pairwise, same), table_rows(crowded, same_crowded))
        return out

    tuned = tables(args.tune)
    tune_rows = merge([pair_rows for pair_rows, _ in tuned.values()])
    chosen = choose(tune_rows, args.max_wrong)
    show(f"tuning, pairs: {', '.join(tuned)}", tune_rows, chosen.threshold)
    console.print(
        f"chosen threshold {chosen.threshold:.3f}: wrong hits {100 * chosen.wrong_share:.1f}% "
        f"of hits, hit rate {100 * chosen.hit_rate:.1f}% of same-meaning pairs"
    )
    evaluated = tables(args.eval)
    for name, (pair_rows, crowded_rows) in evaluated.items():
        show(f"held out, pairs: {name}", pair_rows, chosen.threshold)
        show(f"held out, crowded: {name}", crowded_rows, chosen.threshold)
    return {
        "chosen_threshold": chosen.threshold,
        "tune": {"sets": list(tuned), "rows": [asdict(r) for r in tune_rows]},
        "eval": {
            name: {"pairs": [asdict(r) for r in p], "crowded": [asdict(r) for r in c]}
            for name, (p, c) in evaluated.items()
        },
    }


# ---- lookup latency -----------------------------------------------------------------------


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    ms = np.array(samples_ns) / 1e6
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def run_lookup(args: argparse.Namespace) -> dict[str, object]:
    import faiss
    from threadpoolctl import threadpool_limits

    faiss.omp_set_num_threads(1)
    with threadpool_limits(1):
        return asyncio.run(_lookup(args))


async def _lookup(args: argparse.Namespace) -> dict[str, object]:
    rng = np.random.default_rng(0)
    dims, n = 384, args.entries
    stored = rng.standard_normal((n, dims)).astype(np.float32)
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    settings = CacheSettings(semantic_max_entries=max(n, 1))
    index = SemanticIndex(settings, clock=lambda: 0.0)
    started = time.perf_counter()
    for i in range(n):
        index.add(PARTITION, stored[i], f"{i:064x}", expires_at=1e12)
    build_s = time.perf_counter() - started
    sources = rng.integers(0, n, args.queries)
    noise = rng.standard_normal((args.queries, dims)).astype(np.float32) * (0.25 / np.sqrt(dims))
    near = stored[sources] + noise
    near /= np.linalg.norm(near, axis=1, keepdims=True)  # cosine ~0.97 to its source
    far = rng.standard_normal((args.queries, dims)).astype(np.float32)
    far /= np.linalg.norm(far, axis=1, keepdims=True)
    threshold = 0.9
    samples, cpu, found = [], [], 0
    for queries, hit_expected in ((near, True), (far, False)):
        for i, q in enumerate(queries):
            t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
            match = index.search(PARTITION, q, threshold)
            cpu.append(time.thread_time_ns() - c0)
            samples.append(time.perf_counter_ns() - t0)
            if hit_expected and match is not None and match.digest == f"{sources[i]:064x}":
                found += 1
    result: dict[str, object] = {
        "entries": n,
        "index": "hnsw" if index.partitions[PARTITION].hnsw is not None else "exact",
        "build_s": round(build_s, 1),
        "search_wall": percentiles(samples),
        "search_cpu": percentiles(cpu),
        "recall_near_duplicates": found / args.queries,
    }
    result["service"] = await _service_lookups(stored[:2000], args.queries)
    return result


async def _service_lookups(vectors: NDArray[np.float32], count: int) -> dict[str, object]:
    """ResponseCache.lookup on the memory backend: an exact hit, and a semantic hit with the
    embedding taken from a table (so it is excluded, the worker-thread hop is not)."""
    table = {f"question {i}": v for i, v in enumerate(vectors)}

    def encoder(texts: list[str]) -> NDArray[np.float32]:
        return np.stack([table[t] for t in texts])

    settings = CacheSettings.model_validate({"models": {"g": {"semantic": True}}})
    cache = ResponseCache(settings, MemoryBackend(settings.max_bytes), encoder)
    reply = {
        "object": "chat.completion",
        "model": "g",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "x" * 500},
                "finish_reason": "stop",
            }
        ],
    }

    def body(i: int, system: str) -> dict[str, object]:
        return {
            "model": "g",
            "temperature": 0,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": f"question {i}"},
            ],
        }

    for i in range(len(vectors)):
        plan = cache.plan(tenant="t", model_group="g", body=body(i, "s"), headers={})
        await cache.store_reply(plan, reply)
    exact, semantic = [], []
    for i in range(count):
        j = i % len(vectors)
        t0 = time.perf_counter_ns()
        plan = cache.plan(tenant="t", model_group="g", body=body(j, "s"), headers={})
        hit = await cache.lookup(plan)
        exact.append(time.perf_counter_ns() - t0)
        assert hit is not None and plan.result == "hit"
    for i in range(count):
        j = i % len(vectors)
        plan = cache.plan(tenant="t", model_group="g", body=body(j, "s"), headers={})
        plan.request_hash = "0" * 64  # the exact read misses, so the lookup goes semantic
        t0 = time.perf_counter_ns()
        hit = await cache.lookup(plan)
        semantic.append(time.perf_counter_ns() - t0)
        assert hit is not None and plan.result == "semantic-hit"
    await cache.close()
    return {
        "exact_hit": percentiles(exact),
        "semantic_hit_without_embedding": percentiles(semantic),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    quality = sub.add_parser("quality", help="false-hit table per threshold")
    quality.add_argument("--tune", type=Path, nargs="+", required=True)
    quality.add_argument("--eval", type=Path, nargs="*", default=[])
    quality.add_argument("--max-wrong", type=float, default=0.02)
    quality.add_argument("--embeddings", type=Path, default=Path("/tmp/fd-cache-bench"))
    lookup = sub.add_parser("lookup", help="semantic lookup latency at N entries, one core")
    lookup.add_argument("--entries", type=int, default=100_000)
    lookup.add_argument("--queries", type=int, default=2000)
    for p in (quality, lookup):
        p.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    result = run_quality(args) if args.command == "quality" else run_lookup(args)
    if args.command == "lookup":
        console.print_json(json.dumps(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
