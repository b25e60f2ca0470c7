"""A small HTTP/1.1 keep-alive load generator (asyncio + uvloop), light enough to share a core.

    python -m bench.gateway.loadgen URL --concurrency 64 --duration 10 --key KEY

Prints one JSON object: requests, errors by status, requests/s, latency percentiles (ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from urllib.parse import urlsplit

import uvloop

BODY = json.dumps(
    {"model": "bench", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 16}
).encode()


def build_request(url: str, key: str | None) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    headers = [
        f"POST {parts.path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(BODY)}",
    ]
    if key:
        headers.append(f"Authorization: Bearer {key}")
    return host, port, ("\r\n".join(headers) + "\r\n\r\n").encode() + BODY


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(length)
    return status


async def worker(
    host: str,
    port: int,
    request: bytes,
    stop_at: float,
    remaining: list[int],
    latencies: list[float],
    statuses: Counter[str],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at and remaining[0] > 0:
            remaining[0] -= 1
            started = time.perf_counter()
            try:
                writer.write(request)
                status = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                statuses[type(exc).__name__] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            latencies.append(time.perf_counter() - started)
            statuses[str(status)] += 1
    finally:
        writer.close()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


async def run(
    url: str, key: str | None, concurrency: int, duration: float, requests: int
) -> dict[str, object]:
    host, port, request = build_request(url, key)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    remaining = [requests if requests > 0 else 1 << 62]
    started = time.perf_counter()
    stop_at = started + duration
    await asyncio.gather(
        *(
            worker(host, port, request, stop_at, remaining, latencies, statuses)
            for _ in range(concurrency)
        )
    )
    elapsed = time.perf_counter() - started
    ok = statuses.get("200", 0)
    values = sorted(latencies)
    return {
        "url": url,
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "requests": sum(statuses.values()),
        "ok": ok,
        "errors": {k: v for k, v in statuses.items() if k != "200"},
        "rps": round(ok / elapsed, 1),
        "p50_ms": round(percentile(values, 50) * 1000, 3),
        "p90_ms": round(percentile(values, 90) * 1000, 3),
        "p99_ms": round(percentile(values, 99) * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--key")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=0, help="stop after this many (0: no cap)")
    args = parser.parse_args()
    result = uvloop.run(run(args.url, args.key, args.concurrency, args.duration, args.requests))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
