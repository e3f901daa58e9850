"""Re-encoding a dataset: sizes, keyframe interval, same frames, resumable, broken files listed."""

from __future__ import annotations

import os
import subprocess
import sys

import av
import numpy as np
import pytest

from slowfast.datasets.decoder import open_video
from slowfast.datasets.errors import DataError
from slowfast.datasets.prepare import EncodeSettings, output_size, prepare_videos, reencode
from slowfast.datasets.synthetic import write_mp4

from .test_decoder import numbered_frames, numbers_of

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def keyframe_positions(path: str) -> list[int]:
    with av.open(path) as container:
        packets = [p for p in container.demux(video=0) if p.size]
        packets.sort(key=lambda p: p.pts)
        return [i for i, p in enumerate(packets) if p.is_keyframe]


def test_output_size_follows_the_training_rule_with_even_sides():
    assert output_size(256, 340, 128) == (128, 170)
    assert output_size(240, 320, 75) == (74, 100)  # 75 x 100 rounded down to even
    assert output_size(48, 63, None) == (48, 62)


def test_reencode_keeps_frames_and_sets_the_keyframe_interval(tmp_path):
    src, dst = str(tmp_path / "src.mp4"), str(tmp_path / "out" / "dst.mp4")
    write_mp4(src, numbered_frames(100), 30)  # x264's default: one keyframe in 100 frames
    assert keyframe_positions(src) == [0]
    assert reencode(src, dst, EncodeSettings(short_side=24, keyframe_interval=10)) == 100
    assert keyframe_positions(dst) == list(range(0, 100, 10))
    with open_video(dst) as reader:
        assert (reader.num_frames, reader.fps) == (100, 30.0)
        frames = reader.read([0, 37, 99])
        # A clip in the middle now decodes from the keyframe at most 9 frames before it...
        before = reader.frames_decoded
        assert numbers_of(reader.read(list(range(63, 71)))) == list(range(63, 71))
        after_reencode = reader.frames_decoded - before
    with open_video(src) as reader:  # ... where the source decoded from its only keyframe
        reader.read(list(range(63, 71)))
        from_source = reader.frames_decoded
    assert 8 <= after_reencode <= 8 + 9 < from_source, (after_reencode, from_source)
    assert frames.shape == (3, 24, 32, 3)
    assert numbers_of(frames) == [0, 37, 99]
    assert not os.path.exists(dst + ".part")


def test_a_broken_source_leaves_nothing_behind(tmp_path):
    src, dst = str(tmp_path / "broken.mp4"), str(tmp_path / "dst.mp4")
    with open(src, "wb") as f:
        f.write(np.random.default_rng(0).bytes(4000))
    with pytest.raises(DataError, match="broken.mp4"):
        reencode(src, dst, EncodeSettings(short_side=24))
    assert not os.path.exists(dst) and not os.path.exists(dst + ".part")


def test_prepare_videos_skips_what_is_done_and_lists_failures(tmp_path):
    pairs = []
    for i in range(3):
        src = str(tmp_path / f"v{i}.mp4")
        write_mp4(src, numbered_frames(12), 15)
        pairs.append((src, str(tmp_path / "out" / f"v{i}.mp4")))
    bad = str(tmp_path / "bad.mp4")
    open(bad, "wb").close()
    pairs.append((bad, str(tmp_path / "out" / "bad.mp4")))
    settings = EncodeSettings(short_side=None, keyframe_interval=4)
    first = prepare_videos(pairs[:2], settings, progress=False)
    assert (first.done, first.skipped, first.failed) == (2, 0, [])
    second = prepare_videos(pairs, settings, workers=2, progress=False)
    assert (second.done, second.skipped) == (1, 2)
    assert [src for src, _ in second.failed] == [bad]
    assert "bad.mp4" in second.failed[0][1]


def test_the_tool_mirrors_a_dataset_that_then_trains(tmp_path):
    src = tmp_path / "src"
    (src / "videos").mkdir(parents=True)
    lines = []
    for i in range(2):
        write_mp4(str(src / "videos" / f"c{i}.mp4"), numbered_frames(20), 15)
        lines.append(f"videos/c{i}.mp4 {i}")
    (src / "train.csv").write_text("\n".join(lines) + "\n")
    (src / "val.csv").write_text(lines[0] + "\n")
    dst = tmp_path / "dst"
    cmd = [
        sys.executable,
        os.path.join(ROOT, "tools", "prepare_videos.py"),
        "--src",
        str(src),
        "--dst",
        str(dst),
        "--short-side",
        "32",
        "--keyframe-interval",
        "5",
        "--workers",
        "1",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "2 re-encoded, 0 already there, 0 failed" in proc.stdout
    assert (dst / "train.csv").read_text() == (src / "train.csv").read_text()
    assert keyframe_positions(str(dst / "videos" / "c1.mp4")) == [0, 5, 10, 15]
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert "0 re-encoded, 2 already there" in again.stdout

    from slowfast.datasets import build_dataset

    from .helpers import small_cfg

    cfg = small_cfg(
        str(dst), "kinetics", 2, "DATA.TRAIN_JITTER_SCALES", [32, 32], "DATA.TRAIN_CROP_SIZE", 32
    )
    frames, label, _, _ = build_dataset("kinetics", cfg, "train")[1]
    assert label == 1 and frames[1].shape == (3, 8, 32, 32)


def test_the_tool_reports_a_bad_annotation_line(tmp_path):
    (tmp_path / "train.csv").write_text("just-a-path\n")
    cmd = [
        sys.executable,
        os.path.join(ROOT, "tools", "prepare_videos.py"),
        "--src",
        str(tmp_path),
        "--dst",
        str(tmp_path / "out"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"{tmp_path / 'train.csv'}:1: expected 'path label'" in proc.stderr
