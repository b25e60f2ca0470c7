"""Media ingest benchmark: flightdeck vs img2dataset, same machine, same inputs, one run.

2,000 photo-like JPEGs (0.3-2 MP) served over HTTP on loopback; both tools resize to 256 px
(keep_ratio, JPEG quality 95) and write Parquet shards. Reports images/s, peak memory of the
whole process tree and output size. img2dataset runs from its own virtualenv in bench/.peers/.

    python -m bench.media.run [--images 2000] [--workers 2]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow.parquet as pq
from PIL import Image

from bench.media.photos import ensure_photos

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "bench" / ".peers"
I2D_VENV = PEERS / "img2dataset"
RESULTS = ROOT / "bench" / "results"
I2D_VERSION = "1.47.0"
TOOLS = ("img2dataset", "flightdeck")


@dataclass
class Result:
    tool: str
    images_ok: int
    seconds: float
    images_per_s: float
    peak_rss_mb: float
    cpu_ms_per_image: float
    output_mb: float
    mean_thumb_kb: float
    mean_thumb_size: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree(root: int) -> tuple[int, dict[int, int]]:
    """RSS (bytes) of ``root`` and all its descendants, and each one's CPU ticks so far."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            pid = int(entry)
            parents[pid] = int(fields[1])
            ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
            rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack, seen = 0, [root], {}
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        seen[pid] = ticks.get(pid, 0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total, seen


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (bytes) and CPU seconds of the command and all its descendants.

    RSS and CPU are sampled from /proc every 0.1 s over the whole process tree, the same way
    for both tools (wait4 alone misses workers forked by a fork server, which are not
    children of the command). The last 0.1 s of a process that exits between samples is lost.
    """
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak = 0
    cpu_ticks: dict[int, int] = {}
    stderr: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr.append(process.stderr.read()))  # type: ignore[union-attr]
    reader.start()
    while process.poll() is None:
        rss, ticks = _tree(process.pid)
        peak = max(peak, rss)
        for pid, value in ticks.items():
            cpu_ticks[pid] = max(cpu_ticks.get(pid, 0), value)
        time.sleep(0.1)
    reader.join()
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{b''.join(stderr).decode()[-3000:]}")
    return seconds, peak, sum(cpu_ticks.values()) / os.sysconf("SC_CLK_TCK")


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def _thumbs(files: list[Path], column: str) -> tuple[int, float, str]:
    count, total, sizes = 0, 0, {}
    for path in files:
        for value in pq.read_table(path, columns=[column]).column(column).to_pylist():
            if value:
                count += 1
                total += len(value)
                if len(sizes) < 50:
                    sizes[Image.open(io.BytesIO(value)).size] = True
    shorter = sorted({min(s) for s in sizes})
    return count, total / max(count, 1) / 1e3, f"shorter side {shorter}"


def ensure_img2dataset() -> Path:
    """img2dataset in its own virtualenv under bench/.peers/ (created on first use)."""
    binary = I2D_VENV / "bin" / "img2dataset"
    if not binary.exists():
        print(f"installing img2dataset into {I2D_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(I2D_VENV)], check=True)
        pip = [str(I2D_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, f"img2dataset=={I2D_VERSION}"], check=True)
    return binary


def run_img2dataset(manifest: Path, out: Path, workers: int) -> Result:
    binary = ensure_img2dataset()
    command = [
        str(binary),
        "--url_list",
        str(manifest),
        "--input_format",
        "csv",
        "--url_col",
        "url",
        "--output_folder",
        str(out),
        "--output_format",
        "parquet",
        "--processes_count",
        str(workers),
        "--thread_count",
        "64",
        "--image_size",
        "256",
        "--resize_mode",
        "keep_ratio",
        "--encode_quality",
        "95",
        "--number_sample_per_shard",
        "1000",
        "--timeout",
        "10",
        "--retries",
        "0",
        "--enable_wandb",
        "False",
    ]
    env = dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1")
    seconds, peak, cpu = _timed(command, env)
    count, kb, size = _thumbs(sorted(out.glob("*.parquet")), "jpg")
    per_image = cpu * 1e3 / max(count, 1)
    return Result(
        "img2dataset",
        count,
        seconds,
        count / seconds,
        peak / 1e6,
        per_image,
        _folder_mb(out),
        kb,
        size,
    )


def ingest_command(manifest: Path, out: Path, *options: str) -> list[str]:
    """``flightdeck media ingest MANIFEST --out OUT OPTIONS...`` with this interpreter."""
    return [
        sys.executable,
        "-m",
        "flightdeck",
        "media",
        "ingest",
        str(manifest),
        "--out",
        str(out),
        *options,
    ]


def run_flightdeck(manifest: Path, out: Path, workers: int) -> Result:
    command = ingest_command(
        manifest,
        out,
        *("--workers", str(workers), "--image-size", "256", "--resize-mode", "keep_ratio"),
        *("--thumbnail-quality", "95", "--allow-private-addresses", "--no-text-embeddings"),
        *("--timeout", "10", "--retries", "0"),
    )
    seconds, peak, cpu = _timed(command)
    count, kb, size = _thumbs(sorted((out / "shards").glob("*.parquet")), "thumbnail")
    per_image = cpu * 1e3 / max(count, 1)
    return Result(
        "flightdeck",
        count,
        seconds,
        count / seconds,
        peak / 1e6,
        per_image,
        _folder_mb(out),
        kb,
        size,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tool")
    args = parser.parse_args()
    data = PEERS / "media-photos"
    print(f"generating/caching {args.images} photos in {data} ...", file=sys.stderr)
    photos = ensure_photos(data, args.images)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.media.server", str(data), str(port)])
    work = RESULTS / "media-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        time.sleep(1.5)
        manifest = work / "manifest.csv"
        manifest.write_text(
            "url\n" + "".join(f"http://127.0.0.1:{port}/{p.name}\n" for p in photos)
        )
        input_mb = sum(p.stat().st_size for p in photos) / 1e6
        runs: list[Result] = []
        for attempt in range(args.repeat):  # alternate the order: the machine's load drifts
            pair = [
                lambda n=attempt: run_img2dataset(
                    manifest, work / f"img2dataset-{n}", args.workers
                ),
                lambda n=attempt: run_flightdeck(manifest, work / f"flightdeck-{n}", args.workers),
            ]
            for run in pair if attempt % 2 == 0 else pair[::-1]:
                runs.append(run())
    finally:
        server.terminate()
        server.wait()
    cpus = os.cpu_count()
    lines = [
        f"{args.images} JPEGs ({input_mb:.0f} MB, 0.3-2 MP) over HTTP on loopback, "
        f"{args.workers} workers, {cpus} CPUs, resize 256 keep_ratio, JPEG q95, Parquet shards",
        "",
        "| tool | images ok | seconds | images/s | CPU ms/image | peak RSS (MB) | output (MB) "
        "| mean thumbnail (KB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        lines.append(
            f"| {r.tool} | {r.images_ok} | {r.seconds:.1f} | {r.images_per_s:.1f} | "
            f"{r.cpu_ms_per_image:.1f} | {r.peak_rss_mb:.0f} | {r.output_mb:.1f} "
            f"| {r.mean_thumb_kb:.1f} |"
        )
    rate = {t: statistics.median(r.images_per_s for r in runs if r.tool == t) for t in TOOLS}
    cpu = {t: statistics.median(r.cpu_ms_per_image for r in runs if r.tool == t) for t in TOOLS}
    rss = {t: statistics.median(r.peak_rss_mb for r in runs if r.tool == t) for t in TOOLS}
    results = [next(r for r in runs if r.tool == t) for t in TOOLS]
    ratio = rate["flightdeck"] / rate["img2dataset"]
    cpu_ratio = cpu["img2dataset"] / cpu["flightdeck"]
    lines.append("")
    lines.append(
        f"medians: images/s {rate['img2dataset']:.1f} vs {rate['flightdeck']:.1f} "
        f"(flightdeck {ratio:.2f}x), CPU ms/image {cpu['img2dataset']:.1f} vs "
        f"{cpu['flightdeck']:.1f} ({cpu_ratio:.2f}x less), peak RSS MB "
        f"{rss['img2dataset']:.0f} vs {rss['flightdeck']:.0f}; thumbnails: "
        f"{results[0].mean_thumb_size} vs {results[1].mean_thumb_size}"
    )
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "media.json").write_text(
        json.dumps(
            {
                "images": args.images,
                "workers": args.workers,
                "cpus": cpus,
                "runs": [asdict(r) for r in runs],
                "ratio": ratio,
                "cpu_ratio": cpu_ratio,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
