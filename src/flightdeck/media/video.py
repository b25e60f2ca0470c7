"""Video stage: keyframes sampled by scene change or fixed interval, each one a document."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from PIL import Image

from flightdeck.media.decode import DecodedImage, thumbnail_of
from flightdeck.media.errors import DocumentFailed, FailureReason
from flightdeck.media.hashing import sha256_hex
from flightdeck.media.options import ImageOptions, KeyframeMode, VideoOptions

if TYPE_CHECKING:
    import av


@dataclass(frozen=True, slots=True)
class Keyframe:
    """One sampled frame, its time in the video and its thumbnail."""

    timestamp_s: float
    image: DecodedImage


@dataclass(frozen=True, slots=True)
class DecodedVideo:
    """A decoded video: its size, duration and keyframes."""

    width: int
    height: int
    duration_s: float | None
    sha256: str
    keyframes: list[Keyframe]


def decode_video(data: bytes, image: ImageOptions, options: VideoOptions) -> DecodedVideo:
    """Keyframes of a video held in memory; raises :class:`DocumentFailed`."""
    import av  # here, not at the top: PyAV takes 50 ms to import and most inputs are images

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise DocumentFailed(FailureReason.VIDEO_UNDECODABLE, "no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            duration = (
                float(stream.duration * stream.time_base)
                if stream.duration and stream.time_base
                else None
            )
            keyframes = _sample(container, stream, image, options)
            width, height = stream.codec_context.width, stream.codec_context.height
    except DocumentFailed:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise DocumentFailed(FailureReason.VIDEO_UNDECODABLE, str(exc)) from exc
    if not keyframes:
        raise DocumentFailed(FailureReason.VIDEO_UNDECODABLE, "no decodable frame")
    return DecodedVideo(width, height, duration, sha256_hex(data), keyframes)


def _sample(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    image: ImageOptions,
    options: VideoOptions,
) -> list[Keyframe]:
    keyframes: list[Keyframe] = []
    last_small: npt.NDArray[np.float32] | None = None
    next_time = 0.0
    for frame in container.decode(stream):
        if frame.time is None:
            continue
        picture: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
        if options.keyframe_mode is KeyframeMode.INTERVAL:
            if frame.time + 1e-6 < next_time:
                continue
            next_time = frame.time + options.interval_s
        else:
            small = np.asarray(picture.convert("RGB").resize((32, 32)), dtype=np.float32) / 255.0
            if (
                last_small is not None
                and float(np.abs(small - last_small).mean()) < options.scene_threshold
            ):
                continue
            last_small = small
        keyframes.append(Keyframe(round(float(frame.time), 3), _frame_image(picture, image)))
        if len(keyframes) >= options.max_keyframes:
            break
    return keyframes


def _frame_image(picture: Image.Image, options: ImageOptions) -> DecodedImage:
    pixels = np.asarray(picture.convert("RGB"))
    height, width = pixels.shape[:2]
    return thumbnail_of(pixels, width, height, 1, sha256_hex(pixels.tobytes()), options)
