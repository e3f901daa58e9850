"""Synthetic video datasets whose classes can only be told apart over time.

Each class is a motion of one object over a drifting, noisy texture: moving left/right, moving
down/up, turning clockwise/anticlockwise, growing/shrinking, cycling through three colours in one
order or the other, shaking fast/slow. Classes come in pairs that share their appearance (shape,
colours, sizes), so a single frame says little; the left/right and clockwise/anticlockwise pairs
are mirror images, so horizontal flipping turns one class into the other (as in SSv2): train on
this data with ``DATA.RANDOM_FLIP False``. Every video draws its own texture, colours, size,
position, speed and phase.

:func:`make_dataset` writes a dataset in one of the formats the datasets read:

* ``kinetics`` — H.264 MP4 files (PyAV's libx264, yuv420p) under ``videos/``, and
  ``train.csv``/``val.csv``/``test.csv`` with ``videos/<file>.mp4 <label>`` lines: paths are
  relative to the dataset folder, so set ``DATA.PATH_PREFIX`` to it;
* ``ssv2`` — JPEG frames under ``frames/<id>/``, the frame lists ``train.csv``/``val.csv`` and
  the three ``something-something-v2-*.json`` label files;
* ``charades`` — JPEG frames and frame lists with 1-3 actions per video, each present during part
  of the video (frame-level labels).

Output is a function of the arguments only: the same seed writes the same annotation bytes and the
same frames, whatever the number of worker processes.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from dataclasses import dataclass
from fractions import Fraction

import av
import cv2
import numpy as np

from slowfast.datasets.synthetic_video import (  # noqa: F401  (CLASS_TEMPLATES: public here)
    CLASS_TEMPLATES,
    MAX_CLASSES,
    class_names,
    make_actor,
    render_video,
)
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

FORMATS = ("kinetics", "ssv2", "charades")


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def video_codec() -> str:
    """libx264 when PyAV's FFmpeg has it (the usual case), else MPEG-4 part 2."""
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def write_mp4(
    path: str, frames: np.ndarray, fps: float, keyframe_interval: int | None = None
) -> None:
    """Encode RGB frames as an MP4 (H.264, yuv420p), byte-for-byte reproducibly.

    Frames are converted to YUV 4:2:0 with OpenCV (BT.601, video range) and encoded by one
    encoder thread with x264's macroblock-tree rate control off: PyAV's in-``encode`` RGB
    conversion and x264's mbtree were both seen to give different bytes from run to run.
    Keyframes come every ``keyframe_interval`` frames (default: x264's 250) and nowhere else —
    scene-cut detection is off, as synthetic motion would trigger it far more often than real
    footage does, making seeking unrealistically cheap.
    """
    codec = video_codec()
    with av.open(path, "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        if keyframe_interval:
            stream.codec_context.gop_size = keyframe_interval
        if codec == "libx264":
            params = "mbtree=0:scenecut=0"
            stream.options = {"preset": "veryfast", "crf": "20", "x264-params": params}
        else:
            stream.bit_rate = 2_000_000
        for i, frame in enumerate(frames):
            yuv = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2YUV_I420)
            video_frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            video_frame.pts = i
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_frames(folder: str, name: str, frames: np.ndarray) -> list[str]:
    """Write frames as ``folder/name_000001.jpg`` ...; returns the file names in order."""
    os.makedirs(folder, exist_ok=True)
    names = []
    for i, frame in enumerate(frames, start=1):
        file = f"{name}_{i:06d}.jpg"
        cv2.imwrite(os.path.join(folder, file), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        names.append(file)
    return names


@dataclass
class _Job:
    fmt: str
    out: str
    split: str
    number: int
    labels: tuple[int, ...]
    seed: int
    width: int
    height: int
    fps: float
    num_frames: int
    period_scale: float
    pair_shapes: bool


def _run_job(job: _Job) -> tuple[str, list[tuple[int, ...]]]:
    """Render and write one video; returns its path (relative to ``out``) and frame labels."""
    split_code = ("train", "val", "test").index(job.split)
    rng = np.random.default_rng([job.seed, split_code, job.number])
    n = job.num_frames
    actors = []
    for label in job.labels:
        if job.fmt == "charades":  # each action during at least half of the video
            length = int(rng.integers((n + 1) // 2, n + 1))
            first = int(rng.integers(0, n - length + 1))
            last = first + length - 1
            actors.append(
                make_actor(
                    label,
                    first,
                    last,
                    job.width,
                    job.height,
                    rng,
                    job.period_scale,
                    job.pair_shapes,
                )
            )
        else:
            actors.append(
                make_actor(
                    label, 0, n - 1, job.width, job.height, rng, job.period_scale, job.pair_shapes
                )
            )
    frames = render_video(actors, job.width, job.height, job.fps, n, rng)
    frame_labels = [
        tuple(sorted(a.label for a in actors if a.first <= i <= a.last)) for i in range(n)
    ]
    if job.fmt == "kinetics":
        rel = os.path.join("videos", f"{job.split}_{job.number:05d}.mp4")
        write_mp4(os.path.join(job.out, rel), frames, job.fps)
        return rel, frame_labels
    name = f"{job.split}{job.number:05d}"
    rel_folder = os.path.join("frames", name)
    files = write_frames(os.path.join(job.out, rel_folder), name, frames)
    return rel_folder + "/" + files[0], frame_labels


def _split_labels(fmt: str, split: str, count: int, num_classes: int, seed: int) -> list[tuple]:
    """Balanced single labels (Kinetics, SSv2) or 1-3 distinct labels (Charades) per video."""
    rng = np.random.default_rng([seed, ("train", "val", "test").index(split), 7919])
    if fmt != "charades":
        labels = np.arange(count) % num_classes
        rng.shuffle(labels)
        return [(int(c),) for c in labels]
    out = []
    for _ in range(count):
        k = int(rng.integers(1, min(3, num_classes) + 1))
        out.append(tuple(sorted(int(c) for c in rng.choice(num_classes, size=k, replace=False))))
    return out


def make_dataset(
    fmt: str,
    out: str,
    num_classes: int,
    splits: dict[str, int],
    seed: int = 0,
    size: tuple[int, int] = (128, 96),
    fps: float = 15.0,
    seconds: float = 2.0,
    workers: int = 2,
    period_scale: float = 1.0,
    pair_shapes: bool = False,
) -> dict:
    """Write a synthetic dataset in format ``fmt`` under ``out``; returns a description.

    ``splits`` maps "train"/"val"/"test" to a number of videos (SSv2 and Charades have no test
    files: their test split reads val). ``size`` is (width, height), both even. The returned dict
    has ``root``, ``format``, ``num_classes``, ``class_names``, the written ``files`` and the
    config ``overrides`` (KEY VALUE list) that point a config at the dataset. ``period_scale``
    stretches every motion's period (2.0: half the speed); ``pair_shapes`` draws each class pair
    with its own shape, so that one frame tells the pair and the motion tells the class within it.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if not 1 <= num_classes <= MAX_CLASSES or (fmt != "charades" and num_classes < 2):
        raise ValueError(f"num_classes must be in [2, {MAX_CLASSES}], got {num_classes}")
    width, height = size
    if width % 2 or height % 2 or width < 16 or height < 16:
        raise ValueError(f"size must be even and at least 16x16, got {width}x{height}")
    if not period_scale > 0:
        raise ValueError(f"period_scale must be > 0, got {period_scale}")
    unknown = set(splits) - {"train", "val", "test"}
    if unknown:
        raise ValueError(f"unknown split(s) {sorted(unknown)}; use train, val, test")
    if fmt != "kinetics" and splits.get("test", 0):
        raise ValueError(f"the {fmt} format has no test files (its test split reads val)")
    num_frames = max(1, int(round(seconds * fps)))
    os.makedirs(os.path.join(out, "videos" if fmt == "kinetics" else "frames"), exist_ok=True)
    if fmt == "kinetics" and video_codec() != "libx264":
        logger.warning("PyAV's FFmpeg has no libx264 encoder; writing MPEG-4 part 2 videos")

    jobs, labels_of = [], {}
    for split, count in splits.items():
        labels_of[split] = _split_labels(fmt, split, count, num_classes, seed)
        for number, labels in enumerate(labels_of[split]):
            jobs.append(
                _Job(
                    fmt,
                    out,
                    split,
                    number,
                    labels,
                    seed,
                    width,
                    height,
                    fps,
                    num_frames,
                    period_scale,
                    pair_shapes,
                )
            )
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.map(_run_job, jobs, chunksize=max(1, len(jobs) // (8 * workers)))
    else:
        results = [_run_job(job) for job in jobs]

    by_split: dict[str, list] = {s: [] for s in splits}
    for job, result in zip(jobs, results):
        by_split[job.split].append((job, result))
    names = class_names(num_classes)
    writer = {"kinetics": _write_kinetics, "ssv2": _write_ssv2, "charades": _write_charades}[fmt]
    files = writer(out, by_split, names)
    settings = {
        "TRAIN.DATASET": fmt,
        "TEST.DATASET": fmt,
        "DATA.PATH_TO_DATA_DIR": out,
        "DATA.PATH_PREFIX": out,
        "MODEL.NUM_CLASSES": str(num_classes),
        "DATA.RANDOM_FLIP": "False",
    }
    if fmt == "charades":
        settings.update({"MODEL.LOSS_FUNC": "bce_logit", "MODEL.HEAD_ACT": "sigmoid"})
    overrides = [item for pair in settings.items() for item in pair]
    return {
        "root": out,
        "format": fmt,
        "num_classes": num_classes,
        "class_names": names,
        "num_frames": num_frames,
        "files": files,
        "overrides": overrides,
    }


def _write_text(path: str, lines: list[str]) -> str:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


def _write_kinetics(out: str, by_split: dict, names: list[str]) -> list[str]:
    files = []
    for split, items in by_split.items():
        lines = [f"{rel} {job.labels[0]}" for job, (rel, _) in items]
        files.append(_write_text(os.path.join(out, f"{split}.csv"), lines))
    return files


def _frame_list_lines(items: list, with_labels: bool) -> list[str]:
    lines = ["original_vido_id video_id frame_id path labels"]
    for video_id, (_job, (first_frame, frame_labels)) in enumerate(items):
        folder, first_file = os.path.split(first_frame)
        name = first_file.rsplit("_", 1)[0]
        for i, labels in enumerate(frame_labels):
            text = ",".join(str(c) for c in labels) if with_labels else ""
            path = f"{folder}/{name}_{i + 1:06d}.jpg"
            lines.append(f'{name} {video_id} {i} {path} "{text}"')
    return lines


def _write_ssv2(out: str, by_split: dict, names: list[str]) -> list[str]:
    files = [
        _write_json(
            os.path.join(out, "something-something-v2-labels.json"),
            {name: str(i) for i, name in enumerate(names)},
        )
    ]
    for split, items in by_split.items():
        json_name = "train" if split == "train" else "validation"
        entries = []
        for job, (first_frame, _) in items:
            video_id = os.path.basename(os.path.dirname(first_frame))
            template = CLASS_TEMPLATES[job.labels[0]]
            entries.append(
                {
                    "id": video_id,
                    "label": template.replace("[something]", "a shape").replace("[S", "[s"),
                    "template": template,
                    "placeholders": ["a shape"],
                }
            )
        files.append(
            _write_json(os.path.join(out, f"something-something-v2-{json_name}.json"), entries)
        )
        lines = _frame_list_lines(items, with_labels=False)
        files.append(_write_text(os.path.join(out, f"{split}.csv"), lines))
    return files


def _write_charades(out: str, by_split: dict, names: list[str]) -> list[str]:
    files = []
    for split, items in by_split.items():
        lines = _frame_list_lines(items, with_labels=True)
        files.append(_write_text(os.path.join(out, f"{split}.csv"), lines))
    return files


def _write_json(path: str, data: object) -> str:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    return path
