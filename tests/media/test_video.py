"""Video stage on a video the test generates with PyAV: two scenes of one second each."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from flightdeck.media.errors import DocumentFailed, FailureReason
from flightdeck.media.options import ImageOptions, KeyframeMode, VideoOptions
from flightdeck.media.video import decode_video


def make_video(path: Path, seconds: int = 2, fps: int = 10) -> Path:
    """Red for the first second, then a blue/green pattern: one scene change at t=1s."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for i in range(seconds * fps):
            frame = np.zeros((64, 96, 3), dtype=np.uint8)
            if i < fps:
                frame[:, :, 0] = 220
            else:
                frame[:, :48, 2] = 255
                frame[:, 48:, 1] = 200
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture
def video_file(tmp_path: Path) -> Path:
    return make_video(tmp_path / "clip.mp4")


def test_scene_change_gives_one_keyframe_per_scene(video_file: Path) -> None:
    video = decode_video(video_file.read_bytes(), ImageOptions(32), VideoOptions())
    assert [k.timestamp_s for k in video.keyframes] == [0.0, 1.0]
    assert (video.width, video.height) == (96, 64)
    assert video.keyframes[0].image.thumbnail_height == 32


def test_fixed_interval_sampling(video_file: Path) -> None:
    options = VideoOptions(keyframe_mode=KeyframeMode.INTERVAL, interval_s=0.5)
    video = decode_video(video_file.read_bytes(), ImageOptions(32), options)
    assert [k.timestamp_s for k in video.keyframes] == [0.0, 0.5, 1.0, 1.5]


def test_not_a_video_is_refused() -> None:
    with pytest.raises(DocumentFailed) as caught:
        decode_video(b"nope" * 100, ImageOptions(32), VideoOptions())
    assert caught.value.reason is FailureReason.VIDEO_UNDECODABLE
