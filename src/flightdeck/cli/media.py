"""``flightdeck media``: build the document store the search plane reads."""

from __future__ import annotations

import os
from collections import Counter
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flightdeck.media.engines import Engine
from flightdeck.media.engines import Progress as DocumentProgress
from flightdeck.media.engines.local import LocalEngine
from flightdeck.media.engines.ray import RayEngine
from flightdeck.media.errors import MediaError
from flightdeck.media.features import Featurizer
from flightdeck.media.ingest import IngestReport, ingest, retry_failed
from flightdeck.media.options import (
    FeatureOptions,
    FetchOptions,
    ImageOptions,
    IngestOptions,
    KeyframeMode,
    ResizeMode,
    VideoOptions,
)
from flightdeck.media.sources import open_source
from flightdeck.media.store import MediaStore

app = typer.Typer(help="Ingest images and videos into a deduplicated, featurized store.")
console = Console(stderr=True)


def _engine(name: str, workers: int, address: str | None, on_progress: DocumentProgress) -> Engine:
    if name == "local":
        return LocalEngine(workers, on_progress)
    if name == "ray":
        return RayEngine(workers, address)
    raise MediaError(f"unknown engine {name!r}; use local or ray")


def _describe(live: Counter[str], report: IngestReport) -> str:
    """Documents finished by the workers (live) and what is committed to the store."""
    done = max(sum(live.values()), report.documents)
    rate = done / max(report.seconds, 1e-9)
    failures = ", ".join(f"{k} {v}" for k, v in sorted(live.items()) if k != "ok") or "none"
    return (
        f"{done} docs ({rate:.1f}/s)  ok {live['ok']}  failed: {failures}  "
        f"| committed {report.documents} (dup {report.duplicates_exact + report.duplicates_near})"
    )


def _summary(report: IngestReport, store: str, device: str | None) -> Table:
    table = Table(title=f"media ingest -> {store}")
    table.add_column("what")
    table.add_column("count", justify="right")
    rows: list[tuple[str, object]] = [
        ("documents written", report.documents),
        ("ok", report.ok),
        ("exact duplicates", report.duplicates_exact),
        ("near duplicates", report.duplicates_near),
        ("already in store", report.already_present),
        *((f"failed: {k}", v) for k, v in sorted(report.failures.items())),
        ("shards written", report.shards_written),
        ("shards already done", report.shards_skipped),
        ("bytes written", report.bytes_written),
        ("seconds", f"{report.seconds:.1f}"),
        ("documents/s", f"{report.documents / max(report.seconds, 1e-9):.1f}"),
        ("models on", device or "no models"),
    ]
    for what, count in rows:
        table.add_row(what, str(count))
    return table


@app.command("ingest")
def ingest_command(
    source: Annotated[list[str], typer.Argument(help="manifest, folder, or video files")],
    out: Annotated[str, typer.Option("--out", help="store: folder or fsspec URL")],
    engine: Annotated[str, typer.Option(help="local or ray")] = "local",
    workers: Annotated[int, typer.Option(help="worker processes / Ray CPUs")] = os.cpu_count() or 1,
    address: Annotated[str | None, typer.Option(help="Ray cluster address")] = None,
    image_size: Annotated[int, typer.Option(min=8, max=4096)] = 256,
    resize_mode: Annotated[ResizeMode, typer.Option()] = ResizeMode.KEEP_RATIO,
    thumbnail_format: Annotated[str, typer.Option(help="jpeg or webp")] = "jpeg",
    thumbnail_quality: Annotated[int, typer.Option(min=1, max=100)] = 95,
    model: Annotated[
        str | None, typer.Option(help="CLIP folder, or weights file with --model-arch")
    ] = None,
    model_arch: Annotated[
        str | None,
        typer.Option(help="open_clip model name (ViT-B-32) or model config .json, for --model"),
    ] = None,
    text_embeddings: Annotated[bool, typer.Option(help="MiniLM caption embeddings")] = True,
    device: Annotated[
        str | None,
        typer.Option(help="torch device for the models: cpu, cuda, cuda:1 (default: cuda if any)"),
    ] = None,
    shard_size: Annotated[int, typer.Option(min=1)] = 1000,
    decode_threads: Annotated[
        int, typer.Option(min=1, help="threads per worker for videos and large or non-JPEG images")
    ] = 2,
    near_duplicate_distance: Annotated[int, typer.Option(min=-1, max=64)] = 4,
    concurrency: Annotated[int, typer.Option(min=1, help="requests in flight per worker")] = 64,
    timeout: Annotated[float, typer.Option(help="seconds per request")] = 10.0,
    retries: Annotated[int, typer.Option(min=0)] = 2,
    max_bytes: Annotated[int, typer.Option(help="largest download")] = 50 * 1024 * 1024,
    allow_private_addresses: Annotated[bool, typer.Option()] = False,
    ignore_noai: Annotated[bool, typer.Option(help="fetch despite X-Robots-Tag: noai")] = False,
    keyframes: Annotated[KeyframeMode, typer.Option()] = KeyframeMode.SCENE,
    keyframe_interval: Annotated[float, typer.Option()] = 1.0,
    url_col: Annotated[str | None, typer.Option(help="manifest column with URLs/paths")] = None,
    caption_col: Annotated[str | None, typer.Option(help="manifest column with captions")] = None,
    retry_failed_only: Annotated[
        bool, typer.Option("--retry-failed", help="rerun only transient failures in STORE")
    ] = False,
) -> None:
    """Fetch, decode, deduplicate and featurize SOURCE into STORE (resumable)."""
    options = IngestOptions(
        fetch=FetchOptions(
            concurrency=concurrency,
            timeout_s=timeout,
            retries=retries,
            max_bytes=max_bytes,
            allow_private_addresses=allow_private_addresses,
            respect_noai=not ignore_noai,
        ),
        image=ImageOptions(image_size, resize_mode, thumbnail_format, thumbnail_quality),
        video=VideoOptions(keyframe_mode=keyframes, interval_s=keyframe_interval),
        features=FeatureOptions(
            text_embeddings=text_embeddings,
            clip_model=model if model_arch is None else model_arch,
            clip_weights=None if model_arch is None else model,
            device=device,
        ),
        shard_size=shard_size,
        decode_threads=decode_threads,
        near_duplicate_distance=near_duplicate_distance,
    )
    try:
        if thumbnail_format not in ("jpeg", "webp"):
            raise MediaError(f"--thumbnail-format must be jpeg or webp, not {thumbnail_format!r}")
        if model_arch is not None and model is None:
            raise MediaError("--model-arch needs --model WEIGHTS_FILE (the open_clip weights)")
        src = None if retry_failed_only else open_source(source, url_col, caption_col)
        featurizer = Featurizer(options.features)
        # Before the progress bar and the store: a bad --model is one line on stderr and
        # leaves no empty store behind.
        featurizer.check()
        store = MediaStore.open_writer(out, create=not retry_failed_only)
        live: Counter[str] = Counter()
        report = IngestReport()
        with Progress(
            TextColumn("[bold]ingest"),
            BarColumn(bar_width=20),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            job = bar.add_task("starting", total=None)

            def refresh() -> None:
                bar.update(job, description=_describe(live, report))

            def on_documents(counts: Counter[str]) -> None:
                live.update(counts)
                refresh()

            def on_commit(current: IngestReport) -> None:
                nonlocal report
                report = current
                refresh()

            runner = _engine(engine, workers, address, on_documents)
            try:
                if src is None:
                    report = retry_failed(store, options, runner, on_commit, featurizer=featurizer)
                else:
                    report = ingest(src, store, options, runner, on_commit, featurizer)
            finally:
                runner.close()
            live = Counter({"ok": report.ok, **report.failures})
            bar.update(job, description=_describe(live, report), total=1, completed=1)
    except MediaError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    console.print(_summary(report, out, featurizer.device))
