"""The cost of telemetry measured side by side: every mode's server at once, on one core.

    python -m bench.gateway.side_by_side [--modes ...] [--rounds 3] [--duration 10] [--no-peer]

``bench.gateway.run`` measures the modes one after another, and this machine's speed drifts
between runs by more than the effects measured (telemetry off alone moved between 0.30 and
0.47 ms of CPU per request in one afternoon). Here one Flightdeck server per mode (the same
configurations as ``run``'s ``TELEMETRY``) runs at the same time, all pinned to CPU 0, each
under its own load of ``--concurrency`` requests (load generators, the fake upstream and the
OTLP stand-in on CPU 1), and each server's CPU time per request is compared with telemetry
off's in the same round: drift hits every mode alike. The load generators start in a rotated
order each round (``--rounds`` a multiple of the number of servers puts each in every place
equally often). A mode's share is off's CPU per request
over its own, the requests/s it keeps per core. Each round prints its shares; the table gives
each mode's median share with every round beside it (saved to
``bench/results/gateway-side-by-side.json``).

The peer, unless ``--no-peer``: after Flightdeck's rounds, the LiteLLM proxy runs the same way,
twice at once on CPU 0, without callbacks and with its OpenTelemetry callback (``callbacks:
["otel"]``, OTLP/HTTP to the same stand-in); its share is against its own run without
callbacks. "added ms/request" is what each mode costs over its gateway's off, in CPU ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from rich.table import Table

from bench.gateway.run import (
    FLIGHTDECK,
    GATEWAY_CPU,
    LITELLM_KEY,
    LOAD_CPU,
    NAMES,
    OTLP_PORT,
    RESULTS,
    ROOT,
    TELEMETRY,
    console,
    cpu_seconds,
    flightdeck_config,
    litellm_proxy,
    loadgen,
    pinned,
    port_free,
    process,
    wait_until_up,
)

UPSTREAM_PORT, FIRST_PORT, PEER_PORT = 19000, 18090, 18081
PEER_MODES = {
    "litellm-off": "LiteLLM proxy, no callbacks",
    "litellm-otel": "LiteLLM proxy, OpenTelemetry callback to OTLP",
}
# LiteLLM's OpenTelemetry callback (its v1 integration: a BatchSpanProcessor in front of the
# SDK's OTLP/HTTP exporter), configured as its docs say, to the same OTLP stand-in.
PEER_CALLBACK = 'litellm_settings:\n  callbacks: ["otel"]\n'


def loads(urls_keys: list[tuple[str, str]], concurrency: int, duration: float) -> list[dict]:
    """One load generator per server, all at once; their JSON results in order."""
    procs = [
        subprocess.Popen(
            loadgen(url, key, concurrency, duration), stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        for url, key in urls_keys
    ]
    return [json.loads(p.communicate()[0]) for p in procs]


def rounds(
    servers: list[tuple[str, int, str, str]], args: argparse.Namespace, warm_up: float = 3
) -> dict[str, list[float]]:
    """Warm up, then ``args.rounds`` rounds of load on every server at once; CPU ms per request
    of each server (name, pid, base URL, key) per round. The first server is the baseline the
    printed shares are against."""
    targets = [(url + "/v1/chat/completions", key) for _, _, url, key in servers]
    loads(targets, 8, warm_up)
    cpu_ms: dict[str, list[float]] = {name: [] for name, _, _, _ in servers}
    for round_number in range(args.rounds):
        # The load generators start one after another, and where a server stood in that order
        # moved its share by up to 5 points: each round starts them in a rotated order.
        shift = round_number % len(servers)
        order = [*range(shift, len(servers)), *range(shift)]
        before = {i: cpu_seconds(servers[i][1]) for i in order}
        results = loads([targets[i] for i in order], args.concurrency, args.duration)
        for i, result in zip(order, results, strict=True):
            name, pid = servers[i][0], servers[i][1]
            errors = sum(result["errors"].values())
            if errors:
                raise SystemExit(f"{name}: {errors} errors under load: {result['errors']}")
            cpu_ms[name].append((cpu_seconds(pid) - before[i]) * 1000 / max(1, result["ok"]))
        base = cpu_ms[servers[0][0]][-1]
        shares = ", ".join(f"{m} {base / v[-1]:.0%}" for m, v in cpu_ms.items())
        console.print(f"round {round_number + 1}: share of {servers[0][0]}'s requests/s: {shares}")
    return cpu_ms


def spans_received() -> int:
    """Spans the OTLP stand-in has taken since it started."""
    with urllib.request.urlopen(f"http://127.0.0.1:{OTLP_PORT}/stats", timeout=5) as reply:
        return int(json.loads(reply.read())["spans"])


def run(args: argparse.Namespace) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Start everything, run the rounds: Flightdeck's modes, then (unless ``--no-peer``) the
    LiteLLM proxy without and with its OpenTelemetry callback; CPU per request by mode."""
    modes = list(dict.fromkeys(["telemetry-off", *args.modes]))  # each once, off first
    ports = [UPSTREAM_PORT, OTLP_PORT, *range(FIRST_PORT, FIRST_PORT + len(modes))]
    if not args.no_peer:
        ports += [PEER_PORT, PEER_PORT + 1]
    for port in ports:
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
        with ExitStack() as flightdeck:
            servers = []  # (mode, pid, base URL, key)
            for i, mode in enumerate(modes):
                port = FIRST_PORT + i
                config, key = flightdeck_config(upstream, work, args, mode, port)
                argv = pinned(GATEWAY_CPU, *FLIGHTDECK, "serve", "--config", str(config))
                pid = flightdeck.enter_context(process(argv, work / f"flightdeck-{mode}.log"))
                servers.append((mode, pid, f"http://127.0.0.1:{port}", key))
            for _, _, url, _ in servers:
                wait_until_up(url + "/healthz", {})
            cpu_ms = rounds(servers, args)
        peer: dict[str, list[float]] = {}
        if not args.no_peer:
            # Both with the same environment: they differ in the callback only.
            otel = {
                "OTEL_EXPORTER": "otlp_http",
                "OTEL_ENDPOINT": f"http://127.0.0.1:{OTLP_PORT}/v1/traces",
            }
            with ExitStack() as litellm:
                servers = []
                for i, (mode, extra) in enumerate(
                    (("litellm-off", ""), ("litellm-otel", PEER_CALLBACK))
                ):
                    port = PEER_PORT + i
                    proxy = litellm_proxy(upstream, work, mode, port, extra, otel)
                    pid = litellm.enter_context(proxy)
                    servers.append((mode, pid, f"http://127.0.0.1:{port}", LITELLM_KEY))
                before = spans_received()
                peer = rounds(servers, args, warm_up=10)
            if spans_received() == before:  # the callback exported nothing: the row would lie
                raise SystemExit("LiteLLM's OpenTelemetry callback exported no spans")
    return cpu_ms, peer


def report(cpu_ms: dict[str, list[float]], peer: dict[str, list[float]]) -> dict:
    """The table (printed) and the saved summary: each mode's CPU per request, its median share
    of its own gateway's off (every round's beside it) and the CPU it adds per request."""
    table = Table(title="Telemetry side by side (each gateway's servers at once on CPU 0)")
    cols = ("gateway", "CPU ms/request (rounds)", "added ms/request", "share of off (rounds)")
    for col in cols:
        table.add_column(col, justify="right")
    summary = {}
    for results, off_mode, names in (
        (cpu_ms, "telemetry-off", NAMES),
        (peer, "litellm-off", PEER_MODES),
    ):
        if not results:
            continue
        off = results[off_mode]
        for mode, values in results.items():
            shares = [o / v for o, v in zip(off, values, strict=True)]
            added = statistics.median(values) - statistics.median(off)
            summary[mode] = {
                "name": names[mode],
                "cpu_ms_per_request": [round(v, 4) for v in values],
                "added_cpu_ms_per_request": round(added, 4),
                "shares": [round(s, 4) for s in shares],
                "median_share": round(statistics.median(shares), 4),
            }
            table.add_row(
                names[mode],
                " / ".join(f"{v:.3f}" for v in values),
                f"{added:+.3f}" if mode != off_mode else "",
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
    parser.add_argument("--rounds", type=int, default=8, help="a multiple of the servers")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per round")
    parser.add_argument("--concurrency", type=int, default=32, help="per server")
    parser.add_argument(
        "--no-peer", action="store_true", help="skip LiteLLM without and with OpenTelemetry"
    )
    args = parser.parse_args()
    summary = report(*run(args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    saved = RESULTS / "gateway-side-by-side.json"
    saved.write_text(json.dumps(summary, indent=2))
    console.print(f"saved {saved}")


if __name__ == "__main__":
    main()
