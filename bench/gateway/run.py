"""Gateway overhead, side by side with the LiteLLM proxy, in one run; and the cost of telemetry.

    make bench-gateway            # or: .venv/bin/python -m bench.gateway.run [--no-peer]

Flightdeck runs four times: telemetry off; metrics and request logs on (the default); and
tracing at 100% and at 10% sampling, exported by OTLP/HTTP to a local collector stand-in
(``bench.gateway.otlp_sink``, on the load core). Targets: metrics+logs >= 90% and tracing at
100% >= 75% of the requests/s with telemetry off.

Both gateways run pinned to CPU 0 in front of the same fake upstream; the fake upstream and
the load generator share CPU 1. Measured for each: added latency at 1 concurrent request
(p50/p99 through the gateway minus the same straight to the upstream), and sustained
requests/s at 64 concurrent requests, with every error counted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "bench" / ".peers"
RESULTS = ROOT / "bench" / "results"
LITELLM_VERSION = "1.106.0"
GATEWAY_CPU, LOAD_CPU = "0", "1"
console = Console()


def pinned(cpu: str, *argv: str) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if shutil.which("taskset") else list(argv)


def wait_until_up(url: str, headers: dict[str, str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up in {timeout}s")


def port_free(port: int) -> None:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"port {port} is already in use: stop what listens there first")


@contextmanager
def process(argv: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[int]:
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield proc.pid  # taskset execs the command: same pid
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def loadgen(
    url: str, key: str | None, concurrency: int, duration: float, requests: int = 0
) -> list[str]:
    """The command line of one load generator (``bench.gateway.loadgen``) on the load core."""
    argv = [sys.executable, "-m", "bench.gateway.loadgen", url, "--concurrency", str(concurrency)]
    argv += ["--duration", str(duration), "--requests", str(requests)]
    if key:
        argv += ["--key", key]
    return pinned(LOAD_CPU, *argv)


def load(url: str, key: str | None, concurrency: int, duration: float, requests: int = 0) -> dict:
    argv = loadgen(url, key, concurrency, duration, requests)
    out = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout)


# LiteLLM's OpenTelemetry callback needs the SDK and the OTLP/HTTP exporter, which
# litellm[proxy] does not install; the versions Flightdeck is measured with.
OTEL_VERSION = "1.45.2"
PEER_PACKAGES = (
    f"litellm[proxy]=={LITELLM_VERSION}",
    f"opentelemetry-sdk=={OTEL_VERSION}",
    f"opentelemetry-exporter-otlp-proto-http=={OTEL_VERSION}",
)


def ensure_litellm() -> Path:
    """The LiteLLM proxy's executable, installed (once) into its own venv under bench/.peers
    with its OpenTelemetry callback's packages."""
    venv = PEERS / "litellm"
    exe = venv / "bin" / "litellm"
    site = "lib/python*/site-packages/{}-{}.dist-info"
    wanted = [
        ("litellm", LITELLM_VERSION),
        ("opentelemetry_exporter_otlp_proto_http", OTEL_VERSION),
    ]
    if not exe.exists() or not all(list(venv.glob(site.format(*w))) for w in wanted):
        console.print(f"installing LiteLLM {LITELLM_VERSION} into {venv} (once)...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *PEER_PACKAGES], check=True)
    return exe


LITELLM_KEY = "sk-bench"  # the peer's master key


@contextmanager
def litellm_proxy(
    upstream: str,
    work: Path,
    name: str,
    port: int,
    extra_config: str = "",
    env: dict[str, str] | None = None,
) -> Iterator[int]:
    """The LiteLLM proxy pinned to the gateway core on ``port``, with one model ``bench`` on
    the fake upstream, master key ``LITELLM_KEY``, ``extra_config`` YAML and ``env`` over this
    process's environment; yields its pid once its liveliness endpoint answers."""
    config = work / f"{name}.yaml"
    config.write_text(
        "model_list:\n  - model_name: bench\n    litellm_params:\n"
        f"      model: openai/gpt-4o-mini\n      api_base: {upstream}/v1\n"
        f"      api_key: sk-fake\ngeneral_settings:\n  master_key: {LITELLM_KEY}\n" + extra_config
    )
    argv = pinned(GATEWAY_CPU, str(ensure_litellm()), "--config", str(config), "--port", str(port))
    with process(
        argv, work / f"{name}.log", {**os.environ, "LITELLM_LOG": "ERROR", **(env or {})}
    ) as pid:
        wait_until_up(
            f"http://127.0.0.1:{port}/health/liveliness",
            {"Authorization": f"Bearer {LITELLM_KEY}"},
            300,
        )
        yield pid


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # fields[1]: parent pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def memory_mib(pid: int) -> dict[str, float]:
    """Resident memory of a process and its children now and at peak (VmRSS, VmHWM), MiB."""
    out = {"rss_mib": 0.0, "peak_rss_mib": 0.0}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        if status.parent.name != str(pid) and fields.get("PPid", "").strip() != str(pid):
            continue
        for key, name in (("rss_mib", "VmRSS"), ("peak_rss_mib", "VmHWM")):
            out[key] += int(fields.get(name, "0 kB").split()[0]) / 1024
    return {k: round(v, 1) for k, v in out.items()}


def measure(
    name: str, url: str, key: str, pid: int, args: argparse.Namespace, baseline: dict
) -> dict:
    load(url, key, 8, 3)  # warm up
    latency = load(url, key, 1, 60, args.latency_requests)
    cpu_before = cpu_seconds(pid)
    throughput = load(url, key, 64, args.duration)
    cpu_used = cpu_seconds(pid) - cpu_before
    return {
        **memory_mib(pid),  # after the run at 64 concurrent: what a replica needs
        "cpu_ms_per_request": round(cpu_used * 1000 / max(1, throughput["ok"]), 3),
        "name": name,
        "added_p50_ms": round(latency["p50_ms"] - baseline["p50_ms"], 3),
        "added_p99_ms": round(latency["p99_ms"] - baseline["p99_ms"], 3),
        "latency": latency,
        "throughput": throughput,
    }


# The full multi-tenant stack: API key auth, limits in Redis, the usage ledger in PostgreSQL.
# Limits are set high enough never to reject, so every request pays for the full check.
FULL_STACK = """
[store]
url = "postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
[limits]
backend = "redis"
redis_url = "redis://127.0.0.1:{redis_port}/0"
key_prefix = "fd:bench:{run}:"
[limits.default_key]
requests_per_minute = 100000000
tokens_per_minute = 1000000000000
concurrent_requests = 100000
[limits.default_tenant]
requests_per_minute = 100000000
tokens_per_minute = 1000000000000
monthly_budget = 1000000000.0
[limits.prices.bench]
input = 0.15
output = 0.6
"""
BARE = "[ledger]\nenabled = false\n"
OTLP_PORT = 14318
OTLP = f'[telemetry]\notlp_endpoint = "http://127.0.0.1:{OTLP_PORT}"\n'
TELEMETRY = {
    "telemetry-off": "[telemetry]\nmetrics = false\nlogs = false\n",
    "metrics-logs": "",  # the defaults
    "tracing": f"{OTLP}sample_ratio = 1.0\n",
    "tracing-10": f"{OTLP}sample_ratio = 0.1\n",
}


def run_flightdeck(
    upstream: str, work: Path, args: argparse.Namespace, baseline: dict, stack: str = "default"
) -> dict:
    config, key = flightdeck_config(upstream, work, args, stack, 18080)
    argv = pinned(GATEWAY_CPU, *FLIGHTDECK, "serve", "--config", str(config))
    with process(argv, work / "flightdeck.log") as pid:
        wait_until_up("http://127.0.0.1:18080/healthz", {})
        name = NAMES.get(
            stack, "Flightdeck (full stack: key auth, Redis limits, ledger to PostgreSQL)"
        )
        url = "http://127.0.0.1:18080/v1/chat/completions"
        return measure(name, url, key, pid, args, baseline)


FLIGHTDECK = [str(ROOT / ".venv" / "bin" / "flightdeck")]
NAMES = {
    "default": "Flightdeck",
    "bare": "Flightdeck (bare)",
    "durable": "Flightdeck (full stack, ledger sync_before_reply)",
    "telemetry-off": "Flightdeck, telemetry off",
    "metrics-logs": "Flightdeck, metrics + logs (default)",
    "tracing": "Flightdeck, metrics + logs + tracing 100% to OTLP",
    "tracing-10": "Flightdeck, metrics + logs + tracing 10% to OTLP",
}


def flightdeck_config(
    upstream: str, work: Path, args: argparse.Namespace, stack: str, port: int
) -> tuple[Path, str]:
    """The config file of ``stack`` (its own home, serving on ``port``) and a new API key."""
    config = work / f"flightdeck-{stack}.toml"
    extra = ""
    if stack in ("full", "durable"):
        extra = FULL_STACK.format(
            database=args.database, run=int(time.time()), redis_port=args.redis_port
        )
        if stack == "durable":  # as deploy/ ships it: a reply waits for its record's fsync
            extra += "[ledger]\nsync_before_reply = true\n"
    elif stack == "bare":
        extra = BARE
    elif stack in TELEMETRY:
        extra = TELEMETRY[stack]
    config.write_text(
        f'home = "{work / ("fd-home-" + stack)}"\n[server]\nport = {port}\n'
        f'[[models]]\nname = "bench"\nbase_url = "{upstream}/v1"\nmodel = "gpt-4o-mini"\n'
        'api_key = "sk-fake"\n' + extra
    )
    made = subprocess.run(
        [*FLIGHTDECK, "keys", "create", "--name", "bench", "--config", str(config)],
        check=True,
        capture_output=True,
        text=True,
    )
    return config, made.stdout.strip().splitlines()[-1]


@contextmanager
def bench_redis(work: Path, port: int) -> Iterator[None]:
    """A private Redis for the full stack, pinned to the load core like the other external
    parts (in production Redis runs on its own machine, not on the gateway's core)."""
    port_free(port)
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("--full-stack needs redis-server on PATH (apt-get install redis-server)")
    argv = pinned(LOAD_CPU, server, "--port", str(port), "--save", "", "--appendonly", "no")
    with process(argv, work / "redis.log"):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield


def telemetry_runs(upstream: str, work: Path, args: argparse.Namespace, baseline: dict) -> list:
    """Flightdeck with telemetry off, metrics + logs, and tracing to a local OTLP stand-in."""
    port_free(OTLP_PORT)
    sink = pinned(
        LOAD_CPU, sys.executable, "-m", "bench.gateway.otlp_sink", "--port", str(OTLP_PORT)
    )
    stats = f"http://127.0.0.1:{OTLP_PORT}/stats"
    runs: dict[str, list[dict]] = {}
    exported = 0  # the sink counts spans since it started
    with process(sink, work / "otlp.log"):
        wait_until_up(stats, {})
        for round_number in range(args.rounds):
            for stack in args.modes or TELEMETRY:
                result = run_flightdeck(upstream, work, args, baseline, stack)
                if stack.startswith("tracing"):
                    with urllib.request.urlopen(stats, timeout=5) as r:
                        total = json.loads(r.read())["spans"]
                    result["spans_exported"] = total - exported
                    exported = total
                console.print(
                    f"round {round_number + 1}: {result['name']}: "
                    f"{result['throughput']['rps']:.0f} requests/s, "
                    f"{result['cpu_ms_per_request']:.3f} CPU ms/request"
                )
                runs.setdefault(stack, []).append(result)
    return [median_run(results) for results in runs.values()]


def median_run(results: list[dict]) -> dict:
    """The run with the median requests/s of one mode's rounds (the lower middle of an even
    count), with every round's requests/s and CPU per request kept beside it."""
    ordered = sorted(results, key=lambda r: r["throughput"]["rps"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["rounds_rps"] = [r["throughput"]["rps"] for r in results]
    chosen["rounds_cpu_ms_per_request"] = [r["cpu_ms_per_request"] for r in results]
    return chosen


def run_litellm(upstream: str, work: Path, args: argparse.Namespace, baseline: dict) -> dict:
    with litellm_proxy(upstream, work, "litellm", 18081) as pid:
        url = "http://127.0.0.1:18081/v1/chat/completions"
        return measure("LiteLLM proxy", url, LITELLM_KEY, pid, args, baseline)


def report(results: list[dict], baseline: dict) -> str:
    table = Table(title="Gateway overhead (gateway on 1 core; fake upstream + load on the other)")
    cols = (
        "gateway",
        "added p50 (ms)",
        "added p99 (ms)",
        "req/s @64",
        "errors @64",
        "CPU ms/request",
        "RSS MiB (peak)",
    )
    for col in cols:
        table.add_column(col, justify="right")
    lines = ["| " + " | ".join(cols) + " |", "| --- |" + " ---: |" * (len(cols) - 1)]
    for r in results:
        errors = sum(r["throughput"]["errors"].values())
        row = [
            r["name"],
            f"{r['added_p50_ms']:.2f}",
            f"{r['added_p99_ms']:.2f}",
            f"{r['throughput']['rps']:.0f}",
            str(errors),
            f"{r['cpu_ms_per_request']:.3f}",
            f"{r.get('rss_mib', 0):.0f} ({r.get('peak_rss_mib', 0):.0f})",
        ]
        table.add_row(*row)
        lines.append("| " + " | ".join(row) + " |")
    console.print(table)
    console.print(
        f"upstream alone at 1 concurrent: p50 {baseline['p50_ms']:.2f} ms, "
        f"p99 {baseline['p99_ms']:.2f} ms"
    )
    off = next((r for r in results if r["name"] == "Flightdeck, telemetry off"), None)
    if off is not None:
        for r in results:
            if r is not off and r["name"].startswith("Flightdeck, "):
                share = r["throughput"]["rps"] / max(off["throughput"]["rps"], 1e-9)
                spans = f" ({r['spans_exported']} spans exported)" if "spans_exported" in r else ""
                console.print(f"{r['name']} / telemetry off requests/s: {share:.0%}{spans}")
                lines.append(f"\n{r['name']} / telemetry off requests/s: **{share:.0%}**{spans}")
        note = (
            "one mode after another, these shares move with the machine's drift by several "
            "points; the targets are judged side by side (bench.gateway.side_by_side)"
        )
        console.print(note)
        lines.append(f"\n{note[0].upper()}{note[1:]}.")
    elif len(results) >= 2 and results[1]["name"].startswith("Flightdeck (full"):
        ratio = results[1]["throughput"]["rps"] / max(results[0]["throughput"]["rps"], 1e-9)
        cpu = results[0]["cpu_ms_per_request"] / max(results[1]["cpu_ms_per_request"], 1e-9)
        console.print(f"full stack / bare requests/s: {ratio:.0%} (by CPU per request: {cpu:.0%})")
        lines.append(
            f"\nfull stack / bare requests/s: **{ratio:.0%}** (by CPU per request: {cpu:.0%})"
        )
    elif len(results) == 2 and results[1]["throughput"]["rps"]:
        ratio = results[0]["throughput"]["rps"] / results[1]["throughput"]["rps"]
        console.print(f"Flightdeck / LiteLLM requests/s: {ratio:.1f}x")
        lines.append(f"\nFlightdeck / LiteLLM requests/s: **{ratio:.1f}x**")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds at 64 concurrent")
    parser.add_argument("--latency-requests", type=int, default=2000)
    parser.add_argument("--no-peer", action="store_true", help="skip LiteLLM")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the telemetry modes this many times in turn and report each mode's median "
        "round (a shared or virtual machine's speed drifts between runs)",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=list(TELEMETRY),
        help="only these telemetry modes (default: all four); keep telemetry-off for the shares",
    )
    parser.add_argument(
        "--full-stack",
        action="store_true",
        help="measure Flightdeck bare and with key auth + Redis limits + PostgreSQL ledger",
    )
    parser.add_argument(
        "--durable",
        action="store_true",
        help="with --full-stack: also the full stack with [ledger] sync_before_reply (deploy/)",
    )
    parser.add_argument("--database", default="test", help="PostgreSQL database (--full-stack)")
    parser.add_argument(
        "--redis-port", type=int, default=16379, help="port of the bench's own Redis (--full-stack)"
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for port in (18080, 18081, 19000):
        port_free(port)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        upstream = "http://127.0.0.1:19000"
        fake = pinned(
            LOAD_CPU, sys.executable, "-m", "flightdeck.testing.fake_upstream", "--port", "19000"
        )
        with process(fake, work / "upstream.log"):
            wait_until_up(upstream + "/v1/models", {})
            load(upstream + "/v1/chat/completions", None, 8, 2)
            baseline = load(upstream + "/v1/chat/completions", None, 1, 60, args.latency_requests)
            if args.full_stack:
                with bench_redis(work, args.redis_port):
                    results = [
                        run_flightdeck(upstream, work, args, baseline, "bare"),
                        run_flightdeck(upstream, work, args, baseline, "full"),
                    ]
                    if args.durable:
                        results.append(run_flightdeck(upstream, work, args, baseline, "durable"))
            else:
                results = telemetry_runs(upstream, work, args, baseline)
            if not args.no_peer and not args.full_stack:
                results.append(run_litellm(upstream, work, args, baseline))
    table = report(results, baseline)
    out = {"baseline": baseline, "results": results, "markdown": table}
    saved = RESULTS / ("gateway-full-stack.json" if args.full_stack else "gateway.json")
    saved.write_text(json.dumps(out, indent=2))
    console.print(f"saved {saved}")


if __name__ == "__main__":
    main()
