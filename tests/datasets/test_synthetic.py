"""The synthetic dataset generator: files per format, determinism, argument checks."""

from __future__ import annotations

import json
import os

import av
import cv2
import numpy as np
import pytest

from slowfast.datasets.synthetic import CLASS_TEMPLATES, make_dataset

SPLITS = {
    "kinetics": {"train": 3, "val": 1, "test": 1},
    "ssv2": {"train": 2, "val": 1},
    "charades": {"train": 2, "val": 1},
}


def generate(root: str, fmt: str, workers: int) -> dict:
    return make_dataset(
        fmt, root, 4, SPLITS[fmt], seed=11, size=(32, 24), fps=10, seconds=1.0, workers=workers
    )


def annotation_bytes(root: str) -> dict[str, bytes]:
    names = [n for n in sorted(os.listdir(root)) if n.endswith((".csv", ".json"))]
    return {n: open(os.path.join(root, n), "rb").read() for n in names}


def pixels(root: str) -> list[np.ndarray]:
    out = []
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.endswith(".mp4"):
                with av.open(path) as container:
                    out += [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
            elif name.endswith(".jpg"):
                out.append(cv2.imread(path))
    return out


@pytest.mark.parametrize("fmt", ["kinetics", "ssv2", "charades"])
def test_same_seed_same_bytes_and_frames(tmp_path, fmt):
    first = generate(str(tmp_path / "a"), fmt, workers=1)
    second = generate(str(tmp_path / "b"), fmt, workers=2)
    a, b = annotation_bytes(first["root"]), annotation_bytes(second["root"])
    assert a.keys() == b.keys() and a == b
    frames_a, frames_b = pixels(first["root"]), pixels(second["root"])
    assert len(frames_a) == 10 * sum(SPLITS[fmt].values())
    assert all(np.array_equal(x, y) for x, y in zip(frames_a, frames_b))
    other = make_dataset(
        fmt,
        str(tmp_path / "c"),
        4,
        SPLITS[fmt],
        seed=12,
        size=(32, 24),
        fps=10,
        seconds=1.0,
        workers=1,
    )
    assert not np.array_equal(pixels(other["root"])[0], frames_a[0])


def test_files_of_each_format(tmp_path):
    kinetics = generate(str(tmp_path / "k"), "kinetics", workers=1)
    assert sorted(os.path.basename(f) for f in kinetics["files"]) == [
        "test.csv",
        "train.csv",
        "val.csv",
    ]
    line = open(os.path.join(kinetics["root"], "train.csv")).read().splitlines()[0]
    path, label = line.split(" ")
    assert path.startswith("videos/") and os.path.isfile(os.path.join(kinetics["root"], path))
    assert 0 <= int(label) < 4
    with av.open(os.path.join(kinetics["root"], path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.format.name == "yuv420p"
        assert (stream.width, stream.height, stream.frames) == (32, 24, 10)

    ssv2 = generate(str(tmp_path / "s"), "ssv2", workers=1)
    with open(os.path.join(ssv2["root"], "something-something-v2-labels.json")) as f:
        labels = json.load(f)
    assert labels == {
        t.replace("[", "").replace("]", ""): str(i) for i, t in enumerate(CLASS_TEMPLATES[:4])
    }
    with open(os.path.join(ssv2["root"], "something-something-v2-validation.json")) as f:
        (entry,) = json.load(f)
    assert entry["template"] in CLASS_TEMPLATES and entry["id"] == "val00000"

    charades = generate(str(tmp_path / "c"), "charades", workers=1)
    rows = open(os.path.join(charades["root"], "train.csv")).read().splitlines()
    assert rows[0] == "original_vido_id video_id frame_id path labels" and len(rows) == 21
    labels_per_video = {}
    for row in rows[1:]:
        video, _, _, path, text = row.split(" ")
        assert os.path.isfile(os.path.join(charades["root"], path))
        labels_per_video.setdefault(video, set()).update(set(text.strip('"').split(",")) - {""})
    assert all(1 <= len(v) <= 3 for v in labels_per_video.values())
    assert "MODEL.LOSS_FUNC" in charades["overrides"]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"fmt": "avi"}, "format must be one of"),
        ({"num_classes": 13}, r"num_classes must be in \[2, 12\]"),
        ({"size": (33, 24)}, "size must be even"),
        ({"fmt": "ssv2", "splits": {"test": 2}}, "no test files"),
        ({"splits": {"training": 2}}, "unknown split"),
        ({"period_scale": 0.0}, "period_scale must be > 0"),
    ],
)
def test_invalid_arguments(tmp_path, kwargs, message):
    args = dict(fmt="kinetics", out=str(tmp_path), num_classes=4, splits={"train": 1})
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        make_dataset(**args)


def test_period_scale_slows_every_motion_and_nothing_else():
    from slowfast.datasets.synthetic_video import make_actor

    def actor(scale):
        return make_actor(3, 0, 9, 64, 48, np.random.default_rng(5), period_scale=scale)

    normal, slow = actor(1.0), actor(3.0)
    assert slow.period == pytest.approx(3 * normal.period)
    assert (slow.shape, slow.size, slow.center, slow.phase) == (
        normal.shape,
        normal.size,
        normal.center,
        normal.phase,
    )
    assert np.array_equal(slow.colours, normal.colours)


def test_period_scale_reaches_the_rendered_frames(tmp_path):
    def frames(scale, name):
        root = str(tmp_path / name)
        make_dataset(
            "ssv2",
            root,
            2,
            {"train": 1, "val": 1},
            seed=3,
            size=(32, 24),
            fps=10,
            seconds=1.0,
            workers=1,
            period_scale=scale,
        )
        return pixels(root)

    base, again, slow = frames(1.0, "a"), frames(1.0, "b"), frames(4.0, "c")
    assert all(np.array_equal(x, y) for x, y in zip(base, again))  # the default is unchanged
    assert len(slow) == len(base)
    assert not all(np.array_equal(x, y) for x, y in zip(base, slow))

    # Slower motion: consecutive frames of a video differ less.
    def motion(seq):
        return np.mean([np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(seq, seq[1:])])

    assert motion(slow[:10]) < motion(base[:10])


def test_pair_shapes_give_each_class_pair_its_shape_and_keep_the_rest():
    from slowfast.datasets.synthetic_video import PAIR_SHAPES, make_actor

    for label in range(8):
        plain = make_actor(label, 0, 9, 64, 48, np.random.default_rng(label))
        cued = make_actor(label, 0, 9, 64, 48, np.random.default_rng(label), pair_shapes=True)
        assert cued.shape == PAIR_SHAPES[label // 2]
        assert (cued.size, cued.center, cued.period, cued.phase) == (
            plain.size,
            plain.center,
            plain.period,
            plain.phase,
        )
    # Both classes of a pair share the shape; the pairs' shapes differ (the bar pair aside).
    assert PAIR_SHAPES[0] != PAIR_SHAPES[1] != PAIR_SHAPES[3] != PAIR_SHAPES[0]
