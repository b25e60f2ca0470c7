"""``flightdeck media``: build the document store the search plane reads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import fsspec
import typer
from prometheus_client import push_to_gateway, write_to_textfile
from rich.console import Console

from flightdeck.cli.context import command_group
from flightdeck.cli.media_progress import IngestProgress, summary
from flightdeck.encoders.errors import ModelLoadError
from flightdeck.media.engines import Engine
from flightdeck.media.engines import Progress as DocumentProgress
from flightdeck.media.engines.local import LocalEngine
from flightdeck.media.engines.ray import RayEngine
from flightdeck.media.errors import MediaError
from flightdeck.media.features import Featurizer
from flightdeck.media.ingest import IngestReport, ingest, retry_failed
from flightdeck.media.manifests import is_local
from flightdeck.media.options import (
    FeatureOptions,
    FetchOptions,
    ImageOptions,
    IngestOptions,
    KeyframeMode,
    ResizeMode,
    VideoOptions,
)
from flightdeck.media.sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, open_source
from flightdeck.mediastore.errors import StoreError
from flightdeck.mediastore.store import MediaStore
from flightdeck.telemetry.media_metrics import media_registry

app = command_group("Ingest images and videos into a deduplicated, featurized store.")
console = Console(stderr=True)


def _engine(name: str, workers: int, address: str | None, on_progress: DocumentProgress) -> Engine:
    if name == "local":
        return LocalEngine(workers, on_progress)
    if name == "ray":
        return RayEngine(workers, address)
    raise MediaError(f"unknown engine {name!r}; use local or ray")


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
    pushgateway: Annotated[
        str | None, typer.Option(help="push the run's metrics to this Prometheus Pushgateway URL")
    ] = None,
    allow_scheme: Annotated[
        list[str] | None,
        typer.Option(help="also fetch URLs of this fsspec scheme (s3, gs, ...); repeatable"),
    ] = None,
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
            local_paths=all(is_local(path) for path in source),
            object_store_schemes=tuple(s.lower() for s in allow_scheme or ()),
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
        _check_options(thumbnail_format, model, model_arch, options)
        src = None if retry_failed_only else open_source(source, url_col, caption_col)
        featurizer = Featurizer(options.features)
        # A first line at once: loading the models and starting the workers take seconds.
        loading = f" (loading models on {featurizer.device})" if featurizer.device else ""
        console.print(
            f"media ingest {' '.join(source)} -> {out}{loading}", highlight=False, soft_wrap=True
        )
        # Before the progress bar and the store: a bad --model is one line on stderr and
        # leaves no empty store behind.
        featurizer.check()
        store = MediaStore.open_writer(out, create=not retry_failed_only)
        report = IngestReport()
        with IngestProgress(console, src, report) as bar:
            runner = _engine(engine, workers, address, bar.on_documents)
            try:
                if src is None:
                    retry_failed(store, options, runner, bar.on_commit, None, featurizer, report)
                else:
                    ingest(src, store, options, runner, bar.on_commit, featurizer, report)
            finally:
                runner.close()
    except (MediaError, ModelLoadError, StoreError) as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    console.print(summary(report, out, featurizer.device))
    _write_metrics(report, out, pushgateway)
    if src is not None and report.inputs_seen == 0:
        warning = f"warning: {_nothing_found(source)}; nothing was ingested"
        console.print(warning, style="yellow", highlight=False, soft_wrap=True)


def _write_metrics(report: IngestReport, out: str, pushgateway: str | None) -> None:
    """The run's documents, documents/s and failures by reason: ``metrics.prom`` in a local
    store (for node_exporter's textfile collector), and pushed to ``pushgateway`` if given."""
    registry = media_registry(report.documents, dict(report.failures), report.seconds)
    if is_local(out):
        path = Path(out.removeprefix("file://")) / "metrics.prom"
        write_to_textfile(str(path), registry)
        console.print(f"metrics: {path}", highlight=False, soft_wrap=True)
    if pushgateway:
        try:
            push_to_gateway(pushgateway, job="flightdeck_media_ingest", registry=registry)
        except OSError as exc:
            typer.echo(f"warning: metrics not pushed to {pushgateway}: {exc}", err=True)


def _check_options(
    thumbnail_format: str, model: str | None, model_arch: str | None, options: IngestOptions
) -> None:
    if thumbnail_format not in ("jpeg", "webp"):
        raise MediaError(f"--thumbnail-format must be jpeg or webp, not {thumbnail_format!r}")
    if model_arch is not None and model is None:
        raise MediaError("--model-arch needs --model WEIGHTS_FILE (the open_clip weights)")
    for scheme in options.fetch.object_store_schemes:
        if scheme in ("http", "https", "file", "local") or not scheme.isidentifier():
            raise MediaError(f"--allow-scheme {scheme!r}: name an object store such as s3 or gs")
        try:
            fsspec.get_filesystem_class(scheme)
        except (ValueError, ImportError) as exc:
            raise MediaError(f"--allow-scheme {scheme!r}: {exc}") from exc


def _nothing_found(paths: list[str]) -> str:
    """Why SOURCE gave no inputs, in words."""
    if len(paths) == 1 and os.path.isdir(paths[0]):
        others = sum(len(files) for _, _, files in os.walk(paths[0]))
        kinds = ", ".join(sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))
        return f"{paths[0]} holds {others} files and no image or video ({kinds})"
    return f"{' '.join(paths)} lists no inputs"
