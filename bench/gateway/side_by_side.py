"""The cost of telemetry measured side by side: every mode's server at once, on one core.

    python -m bench.gateway.side_by_side [--modes ...] [--rounds 3] [--duration 10]

``bench.gateway.run`` measures the modes one after another, and this machine's speed drifts
between runs by more than the effects measured (telemetry off alone moved between 0.30 and
0.47 ms of CPU per request in one afternoon). Here one Flightdeck server per mode (the same
configurations as ``run``'s ``TELEMETRY``) runs at the same time, all pinned to CPU 0, each
under its own load of ``--concurrency`` requests (load generators, the fake upstream and the
OTLP stand-in on CPU 1), and each server's CPU time per request is compared with telemetry
off's in the same round: drift hits every mode alike. A mode's share is off's CPU per request
over its own, the requests/s it keeps per core. Each round prints its shares; the table gives
each mode's median share with every round beside it (saved to
``bench/results/gateway-side-by-side.json``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from rich.table import Table

from bench.gateway.run import (
    FLIGHTDECK,
    GATEWAY_CPU,
    LOAD_CPU,
    NAMES,
    OTLP_PORT,
    RESULTS,
    ROOT,
    TELEMETRY,
    console,
    cpu_seconds,
    flightdeck_config,
    loadgen,
    pinned,
    port_free,
    process,
    wait_until_up,
)

UPSTREAM_PORT, FIRST_PORT = 19000, 18090


def loads(urls_keys: list[tuple[str, str]], concurrency: int, duration: float) -> list[dict]:
    """One load generator per server, all at once; their JSON results in order."""
    procs = [
        subprocess.Popen(
            loadgen(url, key, concurrency, duration), stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        for url, key in urls_keys
    ]
    return [json.loads(p.communicate()[0]) for p in procs]


def run(args: argparse.Namespace) -> dict:
    """Start everything, run the rounds, return the per-round CPU per request by mode."""
    modes = list(dict.fromkeys(["telemetry-off", *args.modes]))  # each once, off first
    for port in (UPSTREAM_PORT, OTLP_PORT, *range(FIRST_PORT, FIRST_PORT + len(modes))):
        port_free(port)
    upstream = f"http://127.0.0.1:{UPSTREAM_PORT}"
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        py = sys.executable
        fake = [py, "-m", "flightdeck.testing.fake_upstream", "--port", str(UPSTREAM_PORT)]
        sink = [py, "-m", "bench.gateway.otlp_sink", "--port", str(OTLP_PORT)]
        stack.enter_context(process(pinned(LOAD_CPU, *fake), work / "upstream.log"))
        stack.enter_context(process(pinned(LOAD_CPU, *sink), work / "otlp.log"))
        wait_until_up(upstream + "/v1/models", {})
        wait_until_up(f"http://127.0.0.1:{OTLP_PORT}/stats", {})
        servers = []  # (mode, pid, url, key)
        for i, mode in enumerate(modes):
            port = FIRST_PORT + i
            config, key = flightdeck_config(upstream, work, args, mode, port)
            argv = pinned(GATEWAY_CPU, *FLIGHTDECK, "serve", "--config", str(config))
            pid = stack.enter_context(process(argv, work / f"flightdeck-{mode}.log"))
            servers.append((mode, pid, f"http://127.0.0.1:{port}", key))
        for _, _, url, _ in servers:
            wait_until_up(url + "/healthz", {})
        targets = [(url + "/v1/chat/completions", key) for _, _, url, key in servers]
        loads(targets, 8, 3)  # warm up
        cpu_ms: dict[str, list[float]] = {mode: [] for mode in modes}
        for round_number in range(args.rounds):
            before = [cpu_seconds(pid) for _, pid, _, _ in servers]
            results = loads(targets, args.concurrency, args.duration)
            for (mode, pid, _, _), start, result in zip(servers, before, results, strict=True):
                errors = sum(result["errors"].values())
                if errors:
                    raise SystemExit(f"{mode}: {errors} errors under load: {result['errors']}")
                cpu_ms[mode].append((cpu_seconds(pid) - start) * 1000 / max(1, result["ok"]))
            off = cpu_ms["telemetry-off"][-1]
            shares = ", ".join(f"{m} {off / v[-1]:.0%}" for m, v in cpu_ms.items())
            console.print(f"round {round_number + 1}: share of off's requests/s per core: {shares}")
    return cpu_ms


def report(cpu_ms: dict[str, list[float]]) -> dict:
    """The table (printed) and the saved summary: median share per mode, every round's."""
    off = cpu_ms["telemetry-off"]
    table = Table(title="Telemetry side by side (all servers at once on CPU 0)")
    for col in ("Flightdeck", "CPU ms/request (rounds)", "share of off (rounds)"):
        table.add_column(col, justify="right")
    summary = {}
    for mode, values in cpu_ms.items():
        shares = [o / v for o, v in zip(off, values, strict=True)]
        summary[mode] = {
            "name": NAMES[mode],
            "cpu_ms_per_request": [round(v, 4) for v in values],
            "shares": [round(s, 4) for s in shares],
            "median_share": round(statistics.median(shares), 4),
        }
        table.add_row(
            NAMES[mode],
            " / ".join(f"{v:.3f}" for v in values),
            f"{statistics.median(shares):.0%} (" + " / ".join(f"{s:.0%}" for s in shares) + ")",
        )
    console.print(table)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=list(TELEMETRY),
        default=list(TELEMETRY),
        help="modes besides telemetry off, which always runs (default: all)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per round")
    parser.add_argument("--concurrency", type=int, default=32, help="per server")
    args = parser.parse_args()
    summary = report(run(args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    saved = RESULTS / "gateway-side-by-side.json"
    saved.write_text(json.dumps(summary, indent=2))
    console.print(f"saved {saved}")


if __name__ == "__main__":
    main()
