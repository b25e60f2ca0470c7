"""CLIP features on a GPU: `media ingest` with an open_clip model on CUDA, checked against the
same model on the CPU, and embedding throughput on each.

A ViT-B-32 with random weights (seeded, saved as .safetensors: nothing is downloaded) embeds
N photo-like JPEGs and their captions through the command line, with the default device. The
stored embeddings are compared with the same model run on the CPU, and then the model embeds
the stored thumbnails in flightdeck's batches on each device. Needs open_clip_torch and a CUDA
device; the table goes to stdout and bench/results/clip_gpu.json.

    python -m bench.media.clip_gpu [--images 512] [--arch ViT-B-32]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from bench.media.photos import ensure_photos
from bench.media.run import ingest_command
from flightdeck.encoders.clip import OpenClip, clip_pixels
from flightdeck.mediastore.store import MediaStore

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


def _save_random_model(arch: str, folder: Path) -> Path:
    import open_clip
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.create_model(arch)
    weights = folder / f"{arch}-random.safetensors"
    save_file(model.state_dict(), str(weights))
    return weights


def _ingest(manifest: Path, store: Path, weights: Path, arch: str) -> tuple[float, str]:
    command = ingest_command(
        manifest,
        store,
        *("--model", str(weights), "--model-arch", arch, "--no-text-embeddings", "--workers", "8"),
    )
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"media ingest failed:\n{done.stderr[-3000:]}")
    found = re.search(r"models on +│ +(\S+) │", done.stderr)
    return seconds, found.group(1) if found else "?"


def _rate(clip: OpenClip, images: list[Image.Image], texts: list[str]) -> list[float]:
    """Images/s, texts/s, and images/s of the model alone on ready pixels, in flightdeck's
    batches of 64, after one warm-up batch."""
    clip.encode_images(images[:64])
    clip.encode_texts(texts[:64])
    pixels = clip_pixels(images[:64], clip.image_size, clip.device)

    def model_only(batch: list[Image.Image]) -> None:
        with torch.inference_mode():
            clip.model.encode_image(pixels[: len(batch)]).cpu()

    rates = []
    for encode, items in (
        (clip.encode_images, images),
        (clip.encode_texts, texts),
        (model_only, images),
    ):
        started = time.perf_counter()
        for start in range(0, len(items), 64):
            encode(items[start : start + 64])  # type: ignore[operator]
        rates.append(len(items) / (time.perf_counter() - started))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--arch", default="ViT-B-32")
    parser.add_argument("--cpu-only", action="store_true", help="a dry run without a GPU")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.cpu_only:
        raise SystemExit("no CUDA device: this benchmark compares the GPU with the CPU")
    devices = ["cpu"] if args.cpu_only else ["cuda", "cpu"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photos = ensure_photos(work / "photos", args.images)
        manifest = work / "manifest.csv"
        manifest.write_text(
            "path,caption\n"
            + "".join(
                f"{p},photo {i} of a {['cat', 'dog', 'kite'][i % 3]}\n"
                for i, p in enumerate(photos)
            )
        )
        weights = _save_random_model(args.arch, work)
        seconds, device = _ingest(manifest, work / "store", weights, args.arch)
        rows = MediaStore.open(str(work / "store")).read_all().to_pylist()
        images = [Image.open(io.BytesIO(r["thumbnail"])).convert("RGB") for r in rows]
        texts = [r["caption"] for r in rows]
        stored_images = np.array([r["image_embedding"] for r in rows], dtype=np.float32)
        stored_texts = np.array([r["clip_text_embedding"] for r in rows], dtype=np.float32)
        on_cpu = OpenClip.load(args.arch, str(weights), "cpu")
        sample = slice(0, 128)
        cpu_images = on_cpu.encode_images(images[sample])
        cpu_texts = on_cpu.encode_texts(texts[sample])
        result: dict[str, Any] = {
            "arch": args.arch,
            "images": len(rows),
            "gpu": "none" if args.cpu_only else torch.cuda.get_device_name(0),
            "ingest_seconds": round(seconds, 2),
            "ingest_device": device,
            "image_max_abs_diff_vs_cpu": float(np.abs(stored_images[sample] - cpu_images).max()),
            "text_max_abs_diff_vs_cpu": float(np.abs(stored_texts[sample] - cpu_texts).max()),
            "image_min_cosine_vs_cpu": float((stored_images[sample] * cpu_images).sum(1).min()),
        }
        for name in devices:
            clip = on_cpu if name == "cpu" else OpenClip.load(args.arch, str(weights), name)
            image_rate, text_rate, model_rate = _rate(clip, images, texts)
            result[f"{name}_images_per_s"] = round(image_rate, 1)
            result[f"{name}_texts_per_s"] = round(text_rate, 1)
            result[f"{name}_model_only_images_per_s"] = round(model_rate, 1)
    print(
        f"{result['images']} photos, {args.arch} (random weights), {result['gpu']}, "
        f"{torch.get_num_threads()} CPU threads\n"
        f"media ingest ({result['ingest_device']}): {result['ingest_seconds']} s; stored vs CPU: "
        f"max |diff| images {result['image_max_abs_diff_vs_cpu']:.2e}, texts "
        f"{result['text_max_abs_diff_vs_cpu']:.2e}, "
        f"min cosine {result['image_min_cosine_vs_cpu']:.6f}\n\n"
        "| device | images/s | texts/s | model alone, images/s |\n| --- | ---: | ---: | ---: |\n"
        + "\n".join(
            f"| {d} | {result[f'{d}_images_per_s']} | {result[f'{d}_texts_per_s']} "
            f"| {result[f'{d}_model_only_images_per_s']} |"
            for d in devices
        )
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "clip_gpu.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
