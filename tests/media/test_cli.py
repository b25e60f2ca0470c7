"""The ``flightdeck media ingest`` command, run as a real process."""

from __future__ import annotations

import io
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.compute as pc
import pytest
from rich.console import Console

from flightdeck.cli.media_progress import IngestProgress
from flightdeck.media.ingest import IngestReport
from flightdeck.media.sources import open_source
from flightdeck.mediastore.errors import StoreError
from flightdeck.mediastore.store import MediaStore
from tests.media.conftest import ServedFiles, textured_jpeg

FLIGHTDECK = [sys.executable, "-m", "flightdeck"]
FAST = ["--no-text-embeddings", "--allow-private-addresses", "--workers", "1"]


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLIGHTDECK, "media", "ingest", *args], capture_output=True, text=True, timeout=timeout
    )


def error_lines(stderr: str) -> list[str]:
    """Lines of stderr but the first line every run prints at once (``media ingest ...``)."""
    return [line for line in stderr.splitlines() if line.strip() and "media ingest " not in line]


def test_folder_ingest_prints_a_summary(image_folder: Path, tmp_path: Path) -> None:
    done = cli(str(image_folder), "--out", str(tmp_path / "s"), *FAST)
    assert done.returncode == 0, done.stderr
    assert re.search(r"documents written +│ +5 │", done.stderr), done.stderr
    assert re.search(r"models on +│ +no models │", done.stderr), done.stderr
    assert re.search(r"bytes written +│ +[\d.]+ kB │", done.stderr), done.stderr
    assert done.stderr.splitlines()[0].startswith(f"media ingest {image_folder} -> ")
    assert "5/5 inputs" in done.stderr
    assert MediaStore.open(str(tmp_path / "s")).read_all().num_rows == 5


@pytest.mark.parametrize("files", [[], ["notes.txt", "data.csv"]], ids=["empty", "no-images"])
def test_a_source_without_inputs_warns(tmp_path: Path, files: list[str]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in files:
        (folder / name).write_text("x")
    done = cli(str(folder), "--out", str(tmp_path / "s"), *FAST)
    assert done.returncode == 0, done.stderr
    assert f"warning: {folder} holds {len(files)} files and no image or video" in done.stderr


def test_the_bar_has_its_total_before_any_input_is_done(image_folder: Path) -> None:
    report = IngestReport()
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    with IngestProgress(console, open_source([str(image_folder)]), report) as bar:
        deadline = time.monotonic() + 10
        while bar.total is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert bar.total == 5 and report.inputs_done == 0
        output: io.StringIO = console.file  # type: ignore[assignment]
        while "0/5 inputs" not in output.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)  # the bar redraws itself ten times a second
        assert "0/5 inputs" in output.getvalue()


def test_caption_embeddings_run_on_the_device_asked_for(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(textured_jpeg(1))
    (tmp_path / "m.csv").write_text(f"url,caption\n{tmp_path / 'a.jpg'},a red kite\n")
    args = [str(tmp_path / "m.csv"), "--out", str(tmp_path / "s"), "--workers", "1"]
    done = cli(*args, "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert re.search(r"models on +│ +cpu │", done.stderr), done.stderr
    assert "Loading weights" not in done.stderr  # transformers' own tqdm bar
    (row,) = MediaStore.open(str(tmp_path / "s")).read_all().to_pylist()
    assert len(row["text_embedding"]) == 384


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: str(p / "nope.csv"), "does not exist"),
        (
            lambda p: (p / "m.csv").write_text("link\nx\n") and str(p / "m.csv"),
            "no URL or path column",
        ),
        (lambda p: (p / "notes.txt").write_text("x") and str(p / "notes.txt"), "is not a manifest"),
    ],
)
def test_bad_source_is_one_line_and_exit_1(tmp_path: Path, setup, message: str) -> None:  # type: ignore[no-untyped-def]
    done = cli(setup(tmp_path), "--out", str(tmp_path / "s"), *FAST)
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(error_lines(done.stderr)) == 1


@pytest.mark.parametrize(
    ("model_args", "message"),
    [
        (["--model", "nope"], "error: --model 'nope' is not a CLIP folder"),
        (["--model-arch", "ViT-B-32"], "error: --model-arch needs --model WEIGHTS_FILE"),
        (["--device", "gpu0"], "error: --device 'gpu0' is not a torch device"),
        pytest.param(
            ["--device", "cuda"],
            "error: --device cuda: torch sees no CUDA device here",
            marks=pytest.mark.skipif(_has_cuda(), reason="this machine has a CUDA device"),
        ),
    ],
    ids=["not-a-clip-folder", "arch-without-weights", "not-a-device", "no-cuda-here"],
)
def test_unusable_model_is_one_line_and_exit_1(
    image_folder: Path, tmp_path: Path, model_args: list[str], message: str
) -> None:
    done = cli(str(image_folder), "--out", str(tmp_path / "s"), *FAST, *model_args)
    lines = error_lines(done.stderr)
    assert done.returncode == 1
    assert len(lines) == 1 and lines[0].startswith(message), done.stderr
    assert not (tmp_path / "s").exists()  # no empty store left behind


# Injected through sitecustomize into the local engine's fork server (python -c ...) and
# Ray's workers (default_worker.py): a decoder that kills its process on one input, as a
# decoder crash or the out-of-memory killer would.
CRASHING_DECODER = """
import os, sys
if sys.argv[:1] == ["-c"] or sys.argv[0].endswith("default_worker.py"):
    from flightdeck.media import stages
    decoded_rows = stages._decoded_rows
    def crash_on_marker(base, record, fetched, options):
        if b"KILL-THE-WORKER" in fetched.data:
            os.abort()
        return decoded_rows(base, record, fetched, options)
    stages._decoded_rows = crash_on_marker
"""


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_an_input_that_kills_its_worker_fails_alone(tmp_path: Path, engine: str) -> None:
    folder, inject = tmp_path / "in", tmp_path / "inject"
    folder.mkdir()
    inject.mkdir()
    for i in range(40):
        (folder / f"img{i:02d}.jpg").write_bytes(textured_jpeg(i))
    # Bytes after the end-of-image marker: still a valid JPEG, and the marker to crash on.
    (folder / "img17.jpg").write_bytes(textured_jpeg(17) + b"KILL-THE-WORKER")
    (inject / "sitecustomize.py").write_text(CRASHING_DECODER)
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(inject), os.environ.get("PYTHONPATH", "")])
    }
    args = [str(folder), "--out", str(tmp_path / "s"), "--no-text-embeddings", "--workers", "2"]
    args += ["--engine", engine, "--shard-size", "16"]
    done = subprocess.run(
        [*FLIGHTDECK, "media", "ingest", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    if engine == "local":  # Ray Data logs the failed task's traceback itself
        assert "Traceback" not in done.stderr
    rows = MediaStore.open(str(tmp_path / "s")).read_all().to_pylist()
    assert sorted(r["input_index"] for r in rows) == list(range(40))
    failed = {Path(r["source"]).name: r["error"] for r in rows if r["status"] != "ok"}
    assert failed == {"img17.jpg": "worker_crashed"}
    # Without the crashing decoder (say, with more memory), --retry-failed redoes that one.
    again = cli(str(folder), "--out", str(tmp_path / "s"), *FAST, "--retry-failed")
    assert again.returncode == 0, again.stderr
    rows = MediaStore.open(str(tmp_path / "s")).read_all().to_pylist()
    assert len(rows) == 40 and {r["status"] for r in rows} == {"ok"}


def test_corrupt_store_manifest_is_refused(image_folder: Path, tmp_path: Path) -> None:
    store = tmp_path / "s"
    assert cli(str(image_folder), "--out", str(store), *FAST).returncode == 0
    manifest = store / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"rows": 5', '"rows": 4'))
    done = cli(str(image_folder), "--out", str(store), *FAST)
    assert done.returncode == 1 and "fails its checksum" in done.stderr


@pytest.mark.slow
def test_killed_runs_resume_to_every_input_exactly_once(
    http_files: ServedFiles, tmp_path: Path
) -> None:
    urls = [http_files.add(f"/{i}.jpg", textured_jpeg(100 + i)) for i in range(120)]
    urls.append(http_files.add("/dup.jpg", textured_jpeg(100)))
    http_files.delay_s = 0.05
    manifest = tmp_path / "m.csv"
    manifest.write_text("url,caption\n" + "".join(f"{u},photo {i}\n" for i, u in enumerate(urls)))
    store = tmp_path / "store"
    args = [
        *FLIGHTDECK,
        "media",
        "ingest",
        str(manifest),
        "--out",
        str(store),
        *FAST,
        "--workers",
        "2",
        "--shard-size",
        "7",
        "--concurrency",
        "1",
    ]
    total_shards = -(-len(urls) // 7)
    rng = random.Random()
    kills: list[tuple[float, int]] = []
    done_before = 0
    for _ in range(3):
        process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while _committed(store) <= done_before and time.monotonic() < deadline:
            time.sleep(0.05)
        moment = rng.uniform(0.0, 0.4)  # somewhere inside the next shard's work
        time.sleep(moment)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        os.killpg(process.pid, signal.SIGKILL)  # the orphaned workers, as a supervisor would
        done_before = _committed(store)
        kills.append((round(moment, 2), done_before))
    assert any(0 < shards < total_shards for _, shards in kills), kills
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    final = MediaStore.open(str(store))
    table = final.read_all()
    assert sorted(table.column("source").to_pylist()) == sorted(urls), kills
    assert len(set(table.column("doc_id").to_pylist())) == len(urls)
    assert len(final.shards) == total_shards
    assert final.verify() == []
    listed = {Path(e.file).name for e in final.shards.values()}
    listed |= {Path(e.stats_file).name for e in final.shards.values()}
    assert {p.name for p in (store / "shards").iterdir()} == listed
    dup = table.filter(pc.equal(table.column("source"), urls[-1])).to_pylist()[0]
    assert dup["status"] == "duplicate" and dup["duplicate_of"] is not None


def _committed(store: Path) -> int:
    try:
        return len(MediaStore.open(str(store)).shards)
    except (StoreError, FileNotFoundError, ValueError):
        return 0


def test_retry_failed_from_the_command_line(http_files: ServedFiles, tmp_path: Path) -> None:
    urls = [
        http_files.add("/ok.jpg", textured_jpeg(1)),
        http_files.add("/later.jpg", b"", "text/plain", 502),
    ]
    manifest = tmp_path / "m.csv"
    manifest.write_text("url\n" + "".join(f"{u}\n" for u in urls))
    store = tmp_path / "s"
    assert cli(str(manifest), "--out", str(store), *FAST, "--retries", "0").returncode == 0
    http_files.add("/later.jpg", textured_jpeg(2))
    done = cli(str(manifest), "--out", str(store), *FAST, "--retry-failed")
    assert done.returncode == 0, done.stderr
    rows = MediaStore.open(str(store)).read_all().to_pylist()
    assert [r["status"] for r in rows] == ["ok", "ok"]


def test_every_ingest_option_is_documented() -> None:
    import click
    import typer

    from flightdeck.cli.media import app

    command = typer.main.get_command(app)
    if isinstance(command, click.Group):  # a one-command app is the command itself
        command = command.commands["ingest"]
    docs = (Path(__file__).parents[2] / "docs" / "media.md").read_text()
    options = [o for p in command.params for o in p.opts if o.startswith("--")]
    options = [o for o in options if not o.endswith("-completion")]  # typer's own
    assert "--retry-failed" in options
    missing = [o for o in options if o not in docs]
    assert missing == []


def test_ingest_writes_and_pushes_its_metrics(image_folder: Path, tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    pushed: list[tuple[str, str, bytes]] = []

    class Pushgateway(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            pushed.append((self.command, self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Pushgateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        done = cli(str(image_folder), "--out", str(tmp_path / "s"), *FAST, "--pushgateway", url)
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    written = (tmp_path / "s" / "metrics.prom").read_text()
    assert "flightdeck_media_documents_total 5.0" in written
    assert "flightdeck_media_documents_per_second " in written
    assert [(m, p) for m, p, _ in pushed] == [("PUT", "/metrics/job/flightdeck_media_ingest")]
    assert b"flightdeck_media_documents_total 5.0" in pushed[0][2]
