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


def _tree_rss(root: int) -> int:
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (bytes) and CPU seconds of the command and all its children."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak = 0
    stderr: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr.append(process.stderr.read()))  # type: ignore[union-attr]
    reader.start()
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _tree_rss(process.pid))
        time.sleep(0.1)
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{b''.join(stderr).decode()[-3000:]}")
    # wait4 counts the child and every descendant it waited for (worker processes).
    return seconds, peak, usage.ru_utime + usage.ru_stime


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


def run_img2dataset(manifest: Path, out: Path, workers: int) -> Result:
    binary = I2D_VENV / "bin" / "img2dataset"
    if not binary.exists():
        raise SystemExit(
            f"img2dataset is not installed: python3 -m venv {I2D_VENV} && "
            f"{I2D_VENV}/bin/pip install img2dataset"
        )
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


def run_flightdeck(manifest: Path, out: Path, workers: int) -> Result:
    command = [
        sys.executable,
        "-m",
        "flightdeck",
        "media",
        "ingest",
        str(manifest),
        "--out",
        str(out),
        "--workers",
        str(workers),
        "--image-size",
        "256",
        "--resize-mode",
        "keep_ratio",
        "--thumbnail-quality",
        "95",
        "--allow-private-addresses",
        "--no-text-embeddings",
        "--timeout",
        "10",
        "--retries",
        "0",
    ]
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
    results = [
        max((r for r in runs if r.tool == tool), key=lambda r: r.images_per_s)
        for tool in ("img2dataset", "flightdeck")
    ]
    ratio = results[1].images_per_s / results[0].images_per_s
    cpu_ratio = results[0].cpu_ms_per_image / results[1].cpu_ms_per_image
    lines.append("")
    lines.append(
        f"best runs: flightdeck / img2dataset images/s {ratio:.2f}x, CPU per image "
        f"{cpu_ratio:.2f}x less; thumbnails: "
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
