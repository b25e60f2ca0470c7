"""Cache hits beside misses through the real server: latency and requests/s.

    python -m bench.cache.gateway [--requests 2000] [--concurrency 16] [--upstream-latency 0]

Starts the fake OpenAI upstream and ``flightdeck serve`` (memory cache, SQLite ledger) as
processes of their own, then sends deterministic chat completions (``temperature: 0``) with
aiohttp from this process, one kind of traffic after the other, and reads the server process's
CPU time around each (``/proc``; steadier than wall-clock numbers on a shared machine):

- ``miss``: a new question each time (lookup, upstream call, entry stored);
- ``bypass``: ``Cache-Control: no-store`` (the path without the cache, for reference);
- ``hit``: one question again and again (served from the cache, no upstream call);
- ``hit, stream``: the same as a stream (``stream: true``) read to its end.

``--upstream-latency`` makes the fake upstream wait that many seconds before answering, as a
hosted model would (0: the gateway's own cost only). Prints a table and, with ``--out``, JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from flightdeck.testing.server import free_port

Body = Callable[[int], tuple[dict[str, Any], dict[str, str]]]


@contextmanager
def process(argv: list[str], log: Path) -> Iterator[int]:
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_up(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up in {timeout}s")


def question(text: str, **more: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": text}]
    return {"model": "bench", "messages": messages, "temperature": 0, "max_tokens": 64, **more}


async def measure(
    url: str, key: str, body: Body, requests: int, concurrency: int
) -> dict[str, object]:
    """Send ``requests`` requests (``body(i)``: JSON and headers), ``concurrency`` at a time."""
    latencies: list[float] = []
    results: Counter[str] = Counter()
    next_index = iter(range(requests))
    auth = {"Authorization": f"Bearer {key}"}

    async def worker(session: aiohttp.ClientSession) -> None:
        for i in next_index:
            data, headers = body(i)
            started = time.perf_counter()
            async with session.post(url, json=data, headers=auth | headers) as resp:
                await resp.read()
                status = resp.status
                result = resp.headers.get("x-flightdeck-cache", "-")
            latencies.append(time.perf_counter() - started)
            results[result if status == 200 else str(status)] += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    values = sorted(latencies)

    def pct(q: float) -> float:
        return round(values[min(len(values) - 1, int(q / 100 * len(values)))] * 1000, 2)

    return {
        "requests": requests,
        "results": dict(results),
        "rps": round(requests / elapsed, 1),
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
    }


def run(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    work = Path(tempfile.mkdtemp(prefix="fd-cache-gateway-"))
    upstream_port, port = free_port(), free_port()
    config = work / "flightdeck.toml"
    config.write_text(
        f'home = "{work / "home"}"\n[server]\nport = {port}\n'
        f'[[models]]\nname = "bench"\nbase_url = "http://127.0.0.1:{upstream_port}/v1"\n'
        'model = "gpt-4o-mini"\napi_key = "sk-fake"\n'
    )
    fd = [sys.executable, "-m", "flightdeck"]
    made = subprocess.run(
        [*fd, "keys", "create", "--name", "bench", "--config", str(config)],
        check=True,
        capture_output=True,
        text=True,
    )
    key = made.stdout.strip().splitlines()[-1]
    upstream = [sys.executable, "-m", "flightdeck.testing.fake_upstream", "--port"]
    upstream += [str(upstream_port), "--latency", str(args.upstream_latency)]
    run_id = uuid.uuid4().hex[:8]
    same = question(f"What is the boiling point of water? {run_id}")
    kinds: dict[str, Body] = {
        "miss": lambda i: (question(f"question {i} of run {run_id}"), {}),
        "bypass": lambda i: (same, {"Cache-Control": "no-store"}),
        "hit": lambda i: (same, {}),
        "hit, stream": lambda i: ({**same, "stream": True}, {}),
    }
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    out: dict[str, dict[str, object]] = {}
    with (
        process(upstream, work / "upstream.log"),
        process([*fd, "serve", "--config", str(config)], work / "flightdeck.log") as server,
    ):
        wait_until_up(f"http://127.0.0.1:{port}/healthz")
        warm = min(200, args.requests)
        warm_up: Body = lambda i: (question(f"warm-up {i} of run {run_id}"), {})  # noqa: E731
        asyncio.run(measure(url, key, warm_up, warm, args.concurrency))
        asyncio.run(measure(url, key, kinds["hit"], warm, args.concurrency))  # stores `same`
        for name, body in kinds.items():
            cpu = cpu_seconds(server)
            out[name] = asyncio.run(measure(url, key, body, args.requests, args.concurrency))
            used = cpu_seconds(server) - cpu
            out[name]["server_cpu_ms_per_request"] = round(used * 1000 / args.requests, 3)
    return out


def show(results: dict[str, dict[str, object]]) -> None:
    print("| traffic | requests/s | p50 ms | p90 ms | p99 ms | server CPU ms/request | results |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, r in results.items():
        print(
            f"| {name} | {r['rps']} | {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} | "
            f"{r['server_cpu_ms_per_request']} | {r['results']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--upstream-latency", type=float, default=0.0)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    results = run(args)
    show(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
