"""The parallel stages, as one pure function over a batch of records: fetch, decode, hash.

``prepare_records`` is what an engine runs on its workers (processes or Ray tasks). The
ordered stages that need the whole store (dedupe, then features, then write) run at commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from flightdeck.media.decode import DecodedImage, decode_image
from flightdeck.media.errors import DocumentFailed, FailureReason
from flightdeck.media.fetch import Fetched, Fetcher
from flightdeck.media.options import IngestOptions
from flightdeck.media.rows import base_row, failure_row
from flightdeck.media.sources import SourceRecord, derived_id
from flightdeck.media.video import DecodedVideo, decode_video
from flightdeck.mediastore.schema import Kind, Row, Status

OnDocument = Callable[[list[Row]], None]


def prepare_records(
    records: Sequence[SourceRecord],
    source_key: str,
    options: IngestOptions,
    on_document: OnDocument | None = None,
) -> list[Row]:
    """Fetch, decode and hash every record; one or more rows each, in input order.
    ``on_document`` sees each record's rows as soon as they are ready (for progress)."""
    return asyncio.run(_prepare(records, source_key, options, on_document))


async def _prepare(
    records: Sequence[SourceRecord],
    source_key: str,
    options: IngestOptions,
    on_document: OnDocument | None,
) -> list[Row]:
    # At most `concurrency` documents are held at once, fetched or being decoded. A JPEG of
    # up to INLINE_JPEG_BYTES is decoded right here on the event loop's thread; anything
    # else (video, other formats, larger files) in threads, which Pillow and PyAV let run
    # while the loop keeps fetching.
    limit = asyncio.Semaphore(options.fetch.concurrency)
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max(1, options.decode_threads)) as decoders:
        async with Fetcher(options.fetch) as fetcher:

            async def one(record: SourceRecord) -> list[Row]:
                base = base_row(record, source_key)
                try:
                    if record.problem is not None:  # a malformed manifest row
                        raise DocumentFailed(FailureReason.BAD_MANIFEST_ROW, record.problem)
                    async with limit:
                        fetched = await fetcher.fetch(record.location)
                        if _small_jpeg(record, fetched):
                            rows = _decoded_rows(base, record, fetched, options)
                        else:
                            rows = await loop.run_in_executor(
                                decoders, _decoded_rows, base, record, fetched, options
                            )
                except DocumentFailed as failed:
                    rows = [failure_row(base, failed)]
                except Exception as exc:
                    unforeseen = DocumentFailed(
                        FailureReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}"
                    )
                    rows = [failure_row(base, unforeseen)]
                if on_document is not None:
                    on_document(rows)
                return rows

            results = await asyncio.gather(*(one(r) for r in records))
    return [row for rows in results for row in rows]


INLINE_JPEG_BYTES = 2 * 1024 * 1024
"""JPEGs up to this size are decoded on the event loop's thread, not handed to a thread.

Their decode costs about 18 ms per MB on one core (Huffman decoding, proportional to the
file size, dominates at reduced DCT scale), so the loop is never held for long, while a hand-off
to a thread and back cost 0.3-0.6 ms of CPU per image, up to a tenth of the decode of a typical
photo (docs/benchmarks.md). Other formats can decode far more slowly for their size (a flat
PNG compresses to almost nothing), so they and videos always go to threads.
"""


def _small_jpeg(record: SourceRecord, fetched: Fetched) -> bool:
    data = fetched.data
    return not record.is_video and data[:2] == b"\xff\xd8" and len(data) <= INLINE_JPEG_BYTES


def _decoded_rows(
    base: Row, record: SourceRecord, fetched: Fetched, options: IngestOptions
) -> list[Row]:
    if record.is_video or (fetched.content_type or "").startswith("video/"):
        video = decode_video(fetched.data, options.image, options.video)
        return _video_rows(base, video, options)
    return [_image_row(base, decode_image(fetched.data, options.image), options)]


def _image_row(base: Row, image: DecodedImage, options: IngestOptions) -> Row:
    return base | {
        "status": Status.OK.value,
        "width": image.width,
        "height": image.height,
        "sha256": image.sha256,
        "phash": image.phash,
        "thumbnail": image.thumbnail,
        "thumbnail_format": options.image.thumbnail_format,
        "thumbnail_width": image.thumbnail_width,
        "thumbnail_height": image.thumbnail_height,
    }


def _video_rows(base: Row, video: DecodedVideo, options: IngestOptions) -> list[Row]:
    first = video.keyframes[0].image
    rows = [
        base
        | {
            "kind": Kind.VIDEO.value,
            "status": Status.OK.value,
            "width": video.width,
            "height": video.height,
            "sha256": video.sha256,
            "timestamp_s": video.duration_s,
            "thumbnail": first.thumbnail,
            "thumbnail_format": options.image.thumbnail_format,
            "thumbnail_width": first.thumbnail_width,
            "thumbnail_height": first.thumbnail_height,
        }
    ]
    for frame in video.keyframes:
        frame_base = base | {
            "doc_id": derived_id(base["doc_id"], f"t={frame.timestamp_s:.3f}"),
            "source": f"{base['source']}#t={frame.timestamp_s:.3f}",
            "kind": Kind.KEYFRAME.value,
            "parent_id": base["doc_id"],
            "timestamp_s": frame.timestamp_s,
        }
        rows.append(_image_row(frame_base, frame.image, options))
    return rows
