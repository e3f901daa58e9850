"""Selective PyAV decoding: exact frames, decoding only what a clip needs, VFR, audio, bad files."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np
import pytest

from slowfast.datasets.decoder import open_video
from slowfast.datasets.errors import DataError
from slowfast.datasets.synthetic import write_mp4


def numbered_frames(count: int) -> np.ndarray:
    """Flat frames whose red and green levels spell the frame's index (i % 20, i // 20)."""
    frames = np.full((count, 48, 64, 3), 128, dtype=np.uint8)
    for i in range(count):
        frames[i, ..., 0] = 20 + 10 * (i % 20)
        frames[i, ..., 1] = 20 + 10 * (i // 20)
    return frames


def numbers_of(frames: np.ndarray) -> list[int]:
    """The indices spelled by decoded frames (robust to a few levels of coding error)."""
    red = np.rint((frames[..., 0].mean(axis=(1, 2)) - 20) / 10).astype(int)
    green = np.rint((frames[..., 1].mean(axis=(1, 2)) - 20) / 10).astype(int)
    return (red + 20 * green).tolist()


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("decoder")
    paths = {"short": str(root / "short.mp4"), "long": str(root / "long.mp4")}
    write_mp4(paths["short"], numbered_frames(90), 30, keyframe_interval=30)
    write_mp4(paths["long"], numbered_frames(300), 30, keyframe_interval=30)
    return paths


def decode_all(path: str) -> list[np.ndarray]:
    with av.open(path) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_frames_equal_a_full_decode(videos):
    everything = decode_all(videos["short"])
    indices = [45, 3, 60, 60, 89]
    with open_video(videos["short"]) as reader:
        assert (reader.fps, reader.num_frames) == (30.0, 90)
        frames = reader.read(indices)
    assert frames.shape == (5, 48, 64, 3) and frames.dtype == np.uint8
    for got, i in zip(frames, indices):
        np.testing.assert_array_equal(got, everything[i])


def test_a_clip_in_the_middle_decodes_few_frames(videos):
    with open_video(videos["long"]) as reader:
        frames = reader.read(list(range(150, 166, 2)))
        assert numbers_of(frames) == list(range(150, 166, 2))
        # From the keyframe at or before 150 (at most 30 earlier) to 164, out of 300 frames.
        assert reader.frames_decoded <= 50
        assert reader.num_frames == 300


def test_reading_again_from_the_same_reader(videos):
    with open_video(videos["long"]) as reader:
        assert numbers_of(reader.read([200, 201])) == [200, 201]
        assert numbers_of(reader.read([0, 1])) == [0, 1]
        assert numbers_of(reader.read([120])) == [120]


def test_far_apart_frames_are_reached_by_seeking(videos, monkeypatch):
    monkeypatch.setattr("slowfast.datasets.pyav_reader.SEEK_GAP_S", 1.0)
    with open_video(videos["long"]) as reader:
        assert numbers_of(reader.read([10, 280, 12])) == [10, 280, 12]
        assert reader.frames_decoded <= 2 * 30 + 5  # two runs, each from its keyframe


def test_indices_past_the_end_repeat_the_last_frame(videos):
    with open_video(videos["short"]) as reader:
        assert numbers_of(reader.read([88, 89, 120])) == [88, 89, 89]


def test_variable_frame_rate_picks_the_nearest_frame_in_time(tmp_path):
    times = [0, 0.033, 0.066, 0.1, 0.3, 0.333, 0.366, 0.6, 0.633, 0.9, 0.933, 0.966, 1.0, 1.2]
    path = str(tmp_path / "vfr.mp4")
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, t in enumerate(times):
            image = numbered_frames(len(times))[i].copy()
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = int(round(t * 1000)), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with open_video(path) as reader:
        assert reader.num_frames == len(times)
        indices = list(range(reader.num_frames))
        expected = [int(np.argmin([abs(t - k / reader.fps) for t in times])) for k in indices]
        assert numbers_of(reader.read(indices)) == expected
        assert expected != indices  # the nominal grid differs from the real timestamps


def mux_silence(container, audio, frames: int) -> None:
    """``frames`` frames of 1024 silent mono samples into ``audio``, then its flush."""
    for k in range(frames):
        samples = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        samples.sample_rate, samples.pts = 16000, 1024 * k
        for packet in audio.encode(samples):
            container.mux(packet)
    for packet in audio.encode():
        container.mux(packet)


def test_audio_stream_is_ignored(tmp_path):
    path = str(tmp_path / "av.mp4")
    with av.open(path, "w") as container:
        video = container.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        for frame in numbered_frames(30):
            for packet in video.encode(av.VideoFrame.from_ndarray(frame.copy(), format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        mux_silence(container, audio, 30)
    with open_video(path) as reader:
        assert numbers_of(reader.read([0, 15, 29])) == [0, 15, 29]


def write_faststart(path: str, count: int) -> None:
    """An MP4 with its index first, so that a truncated copy still opens."""
    with av.open(path, "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        noise = np.random.default_rng(0).integers(0, 255, (count, 48, 64, 3), dtype=np.uint8)
        for frame in noise:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.mark.parametrize("kind", ["missing", "empty", "garbage", "truncated", "cut-indexed"])
def test_bad_files_raise_a_data_error_naming_the_file(tmp_path, videos, kind):
    path = str(tmp_path / f"{kind}.mp4")
    if kind == "empty":
        open(path, "wb").close()
    elif kind == "garbage":
        with open(path, "wb") as f:
            f.write(np.random.default_rng(0).bytes(5000))
    elif kind in ("truncated", "cut-indexed"):
        source = videos["long"]
        if kind == "cut-indexed":
            source = str(tmp_path / "whole.mp4")
            write_faststart(source, 300)
        with open(source, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
    with pytest.raises(DataError, match=path.replace(".", r"\.")):
        with open_video(path) as reader:
            reader.read(list(range(0, 300, 30)))
    assert kind != "missing" or not os.path.exists(path)


def gradient_frames(count: int, height: int = 72, width: int = 96) -> np.ndarray:
    """Smooth frames (a ramp shifted by one level per frame)."""
    y, x = np.mgrid[0:height, 0:width]
    frames = np.empty((count, height, width, 3), np.uint8)
    for i in range(count):
        frames[i, ..., 0] = (x * 2 + i) % 256
        frames[i, ..., 1] = (y * 2 + 40) % 256
        frames[i, ..., 2] = 100
    return frames


@pytest.mark.parametrize("short_side", [40, 54, 72, 90])
def test_decoding_at_a_short_side_matches_decode_then_resize(tmp_path, short_side):
    from slowfast.datasets.transform import resize_short_side

    path = str(tmp_path / "ramp.mp4")
    write_mp4(path, gradient_frames(40), 30, keyframe_interval=10)
    indices = [3, 17, 17, 30]
    with open_video(path) as reader:
        full = reader.read(indices)
    with open_video(path) as reader:
        scaled = reader.read(indices, short_side=short_side)
    expected = resize_short_side(full, short_side)
    assert scaled.shape == (4, short_side, short_side * 96 // 72, 3)
    np.testing.assert_array_equal(scaled, expected)


def test_numbered_frames_survive_decoding_at_a_short_side(videos):
    with open_video(videos["long"]) as reader:
        frames = reader.read([150, 10, 151], short_side=24)
    assert frames.shape == (3, 24, 32, 3)
    assert numbers_of(frames) == [150, 10, 151]


def test_decord_reads_the_frames_pyav_reads(videos):
    pytest.importorskip("decord")
    indices = [0, 45, 3, 60, 60, 89]
    with open_video(videos["short"], "decord") as reader:
        assert (reader.fps, reader.num_frames) == (30.0, 90)
        frames = reader.read(indices)
        scaled = reader.read(indices, short_side=24)
    with open_video(videos["short"]) as reader:
        reference = reader.read(indices)
    assert frames.shape == reference.shape and frames.dtype == np.uint8
    assert numbers_of(frames) == indices
    assert np.abs(frames.astype(int) - reference.astype(int)).mean() < 1.0
    assert scaled.shape == (6, 24, 32, 3) and numbers_of(scaled) == indices


def test_decord_bad_file_is_a_data_error(tmp_path):
    pytest.importorskip("decord")
    path = str(tmp_path / "garbage.mp4")
    with open(path, "wb") as f:
        f.write(np.random.default_rng(0).bytes(5000))
    with pytest.raises(DataError, match=path.replace(".", r"\.")):
        open_video(path, "decord")


def test_torchvision_without_a_video_decoder_falls_back_to_pyav(monkeypatch):
    import sys
    import types

    from slowfast.datasets.decoder import resolve_backend

    fake = types.ModuleType("torchvision")
    fake.__version__ = "0.28.0"
    fake.io = types.ModuleType("torchvision.io")  # 0.28: no read_video
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    monkeypatch.setitem(sys.modules, "torchvision.io", fake.io)
    backend, note = resolve_backend("torchvision")
    assert backend == "pyav"
    assert note == (
        "DATA.DECODING_BACKEND 'torchvision': torchvision 0.28.0 has no video decoder "
        "(removed in 0.28); decoding with PyAV instead"
    )
    assert resolve_backend("pyav") == ("pyav", None)


def test_unimportable_torchvision_falls_back_and_missing_decord_is_reported(monkeypatch):
    import sys

    from slowfast.datasets.decoder import resolve_backend

    monkeypatch.setitem(sys.modules, "torchvision", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "decord", None)
    backend, note = resolve_backend("torchvision")
    assert backend == "pyav" and "torchvision cannot be imported (ModuleNotFoundError" in note
    backend, note = resolve_backend("decord")
    assert backend == "decord" and "pip install decord" in note


def write_irregular(path: str, count: int) -> None:
    """29.97 fps H.264 with B-frames, keyframes at irregular places (forced, as scene cuts put
    them) and an audio stream: what real downloads look like."""
    cuts = {0, 17, 41, 42, 77}
    with av.open(path, "w") as container:
        video = container.add_stream("libx264", rate=Fraction(30000, 1001))
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.codec_context.gop_size = 1000
        video.options = {"x264-params": "bframes=3:scenecut=0:forced-idr=1"}
        audio = container.add_stream("aac", rate=16000)
        for i, frame in enumerate(numbered_frames(count)):
            picture = av.VideoFrame.from_ndarray(frame.copy(), format="rgb24")
            if i in cuts:
                picture.pict_type = av.video.frame.PictureType.I
            for packet in video.encode(picture):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        mux_silence(container, audio, count // 2)


def test_every_multigrid_shape_reads_the_frames_of_a_full_decode(tmp_path):
    """The clips of every shape of the demo's schedule (any sampling rate, crop and scale), read
    with the scale drawn, equal a full decode of the file at the same indices, resized."""
    import random

    from slowfast.config import assert_and_infer_cfg, build_cfg
    from slowfast.datasets import sampling
    from slowfast.datasets.transform import resize_short_side
    from slowfast.multigrid import build_schedule, init_cfg

    path = str(tmp_path / "irregular.mp4")
    write_irregular(path, 120)
    with av.open(path) as container:
        keyframes = [
            i
            for i, p in enumerate(
                sorted((p for p in container.demux(video=0) if p.size), key=lambda p: p.pts)
            )
            if p.is_keyframe
        ]
        assert container.streams.video[0].average_rate == Fraction(30000, 1001)
        assert len(container.streams.audio) == 1
    gaps = {b - a for a, b in zip(keyframes, keyframes[1:])}
    assert len(keyframes) >= 4 and len(gaps) > 1  # irregular
    everything = decode_all(path)
    cfg = assert_and_infer_cfg(
        build_cfg(
            [
                os.path.join(
                    os.path.dirname(__file__),
                    "..",
                    "..",
                    "configs",
                    "Synthetic",
                    "SLOWFAST_demo_multigrid.yaml",
                )
            ],
            ["DATA.TARGET_FPS", "30"],
        )
    )
    shapes = {s for p in build_schedule(init_cfg(cfg)).phases for s in p.clip_shapes()}
    assert len(shapes) >= 6
    rng = random.Random(0)
    for shape in sorted(shapes, key=lambda s: s.key):
        for _ in range(3):
            rate = sampling.draw_sampling_rate(shape.sampling_rate, shape.max_sampling_rate, rng)
            with open_video(path) as reader:
                indices = sampling.clip_indices(
                    reader.num_frames,
                    shape.num_frames,
                    rate,
                    reader.fps,
                    30,
                    sampling.RANDOM_VIEW,
                    1,
                    rng,
                )
                size = rng.randint(shape.min_scale, shape.max_scale)
                got = reader.read(indices, short_side=size)
            expected = resize_short_side(np.stack([everything[i] for i in indices]), size)
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("keyframe_interval", [1, 4, 16])
def test_gops_without_a_sampled_frame_are_not_decoded(tmp_path, keyframe_interval):
    """A clip 8 frames apart over short GOPs decodes only the GOPs holding its frames, and still
    returns exactly the frames of a full decode."""
    path = str(tmp_path / "short_gops.mp4")
    write_mp4(path, numbered_frames(200), 30, keyframe_interval=keyframe_interval)
    everything = decode_all(path)
    indices = list(range(40, 104, 8))  # 8 frames over 64
    with open_video(path) as reader:
        frames = reader.read(indices)
        decoded = reader.frames_decoded
    for got, i in zip(frames, indices):
        np.testing.assert_array_equal(got, everything[i])
    # With a keyframe every K frames, each sampled frame costs at most its GOP up to it (K = 1:
    # itself); before, every GOP of the span was decoded (45-59 frames for these files).
    assert decoded <= {1: 8 + 1, 4: 8 * 4, 16: 40}[keyframe_interval], decoded
