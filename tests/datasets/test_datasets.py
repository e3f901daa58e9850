"""The item contract of Kinetics, SSv2 and Charades, and the clip shapes a sampler asks for."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from slowfast.config.errors import ConfigError
from slowfast.datasets import build_dataset
from slowfast.datasets.shape import ClipShape
from slowfast.datasets.video_dataset import VideoDataset

from .helpers import small_cfg, write_frame_list


def red_gradient() -> np.ndarray:
    """A 48x64 BGR image whose red channel grows from left to right (and nothing else)."""
    image = np.zeros((48, 64, 3), dtype=np.uint8)
    image[..., 2] = np.linspace(0, 250, 64).astype(np.uint8)[None, :]
    return image


def test_kinetics_train_item_contract(kinetics_cfg):
    dataset = build_dataset("kinetics", kinetics_cfg(), "train")
    assert isinstance(dataset, VideoDataset)
    assert dataset.num_videos == len(dataset) == 8
    frames, label, index, meta = dataset[5]
    assert [tuple(f.shape) for f in frames] == [(3, 2, 32, 32), (3, 8, 32, 32)]
    assert all(f.dtype == torch.float32 for f in frames)
    assert torch.equal(frames[0], frames[1][:, [0, 7]])
    assert isinstance(label, int) and 0 <= label < 4
    assert index == 5 and meta == {"video_idx": 5, "skipped": [], "failed": False}
    with open(os.path.join(kinetics_cfg().DATA.PATH_TO_DATA_DIR, "train.csv")) as f:
        assert label == int(f.read().splitlines()[5].split()[1])


def test_a_clip_shape_sets_frames_crop_jitter_and_sampling_rate(kinetics_cfg):
    dataset = build_dataset("Kinetics", kinetics_cfg("MODEL.ARCH", "slow"), "train")
    assert dataset[(0, ClipShape(4, 16, 16, 16, 1))][0][0].shape == (3, 4, 16, 16)
    assert dataset[(0, ClipShape(2, 23, 30, 40, 2, 4))][0][0].shape == (3, 2, 23, 23)
    # Without a shape: the configured one.
    assert dataset[0][0][0].shape == (3, 8, 32, 32)
    assert dataset.train_shape() == ClipShape(8, 32, 40, 48, 2, 0)

    def spans(shape):  # how far apart the first and last decoded frames are, over 40 clips
        return {(lambda i: i[-1] - i[0])(dataset.read_random_clip(0, shape)[1]) for _ in range(40)}

    assert len(spans(ClipShape(4, 16, 16, 16, 1))) == 1  # one sampling rate
    assert len(spans(ClipShape(4, 16, 16, 16, 1, 3))) > 1  # a rate drawn from [1, 3]
    with pytest.raises(TypeError, match="must be a ClipShape"):
        dataset[(0, 1)]
    with pytest.raises(ValueError, match="max_scale 10 is below min_scale 16"):
        ClipShape(4, 16, 16, 10, 1)


def test_kinetics_test_split_orders_clips_by_video_then_view(kinetics_cfg):
    dataset = build_dataset("kinetics", kinetics_cfg(), "test")
    assert dataset.num_views == 6 and dataset.num_videos == 2 and len(dataset) == 12
    items = [dataset[i] for i in range(12)]
    assert [meta["video_idx"] for *_, meta in items] == [i // 6 for i in range(12)]
    assert [index for _, _, index, _ in items] == list(range(12))
    assert all(tuple(f[1].shape) == (3, 8, 40, 40) for f, *_ in items)
    # Crops 0, 1, 2 of a temporal view are the left, centre and right of the same frames.
    left, centre, right = (items[i][0][1] for i in range(3))
    assert not torch.equal(left, right)

    def offset(a, b):
        """The column offset of crop ``b`` in the frame of crop ``a`` (same rows, same frames)
        where their common columns are equal, or None."""
        width = a.shape[-1]
        return next(
            (d for d in range(1, width) if torch.equal(a[..., d:], b[..., : width - d])), None
        )

    to_centre, to_right = offset(left, centre), offset(left, right)
    assert to_centre is not None and to_right is not None, (to_centre, to_right)
    assert abs(to_right - 2 * to_centre) <= 1  # the centre crop half-way between the two
    # Both temporal views decoded once: the second view comes from the cache.
    assert list(dataset._test_cache) == [0, 1]


def test_ssv2_keeps_frames_unflipped_without_random_flip(tmp_path):
    root = str(tmp_path)
    videos = {f"v{i}": [(red_gradient(), ())] * 12 for i in range(2)}
    write_frame_list(root, "train.csv", videos, labels=False)
    labels = {"Pushing something left": "0", "Pushing something right": "1"}
    entries = [
        {"id": "v0", "template": "Pushing [something] left"},
        {"id": "v1", "template": "Pushing [something] right"},
    ]
    with open(os.path.join(root, "something-something-v2-labels.json"), "w") as f:
        json.dump(labels, f)
    with open(os.path.join(root, "something-something-v2-train.json"), "w") as f:
        json.dump(entries, f)

    def left_to_right(flip: bool, reverse: bool) -> set[bool]:
        cfg = small_cfg(
            root, "ssv2", 2, "DATA.RANDOM_FLIP", flip, "DATA.REVERSE_INPUT_CHANNEL", reverse
        )
        dataset = build_dataset("ssv2", cfg, "train")
        assert [dataset[i][1] for i in range(2)] == [0, 1]
        red = 0 if reverse else 2  # frames load as BGR, like PySlowFast
        return {
            bool(dataset[i % 2][0][1][red, 0, 0, -1] > dataset[i % 2][0][1][red, 0, 0, 0])
            for i in range(30)
        }

    assert left_to_right(flip=False, reverse=True) == {True}
    assert left_to_right(flip=False, reverse=False) == {True}
    assert left_to_right(flip=True, reverse=True) == {True, False}


def test_ssv2_synthetic_splits_and_segment_sampling(ssv2_cfg):
    train = build_dataset("ssv2", ssv2_cfg(), "train")
    val = build_dataset("ssv2", ssv2_cfg(), "val")
    assert (train.num_videos, val.num_videos) == (6, 3)
    frames, label, index, meta = val[2]
    assert [tuple(f.shape) for f in frames] == [(3, 2, 32, 32), (3, 8, 32, 32)]
    assert isinstance(label, int)


def test_charades_multi_hot_targets_clip_labels_in_training(tmp_path):
    root = str(tmp_path)
    image = np.full((48, 64, 3), 90, dtype=np.uint8)
    frames = [(image, (1,))] * 10 + [(image, (2, 3))] * 10
    write_frame_list(root, "train.csv", {"a": frames, "b": [(image, (0,))] * 5}, labels=True)
    write_frame_list(root, "val.csv", {"a": frames}, labels=True)
    cfg = small_cfg(
        root, "charades", 4, "DATA.NUM_FRAMES", 2, "DATA.SAMPLING_RATE", 1, "MODEL.ARCH", "slow"
    )
    train = build_dataset("charades", cfg, "train")
    assert train.clip_label(0, [0, 5]) == (1,)
    assert train.clip_label(0, [9, 10]) == (1, 2, 3)
    assert train.clip_label(0, [12, 19]) == (2, 3)
    targets = {tuple(train[0][1].tolist()) for _ in range(60)}
    assert targets == {(0.0, 1.0, 0.0, 0.0), (0.0, 1.0, 1.0, 1.0), (0.0, 0.0, 1.0, 1.0)}
    assert train[1][1].dtype == torch.float32 and train[1][1].tolist() == [1.0, 0.0, 0.0, 0.0]
    val = build_dataset("charades", cfg, "val")
    assert {tuple(val[0][1].tolist()) for _ in range(10)} == {(0.0, 1.0, 1.0, 1.0)}
    test = build_dataset("charades", cfg, "test")
    assert len(test) == 6 and test[5][1].tolist() == [0.0, 1.0, 1.0, 1.0]


def test_charades_synthetic_dataset(charades_cfg):
    dataset = build_dataset("charades", charades_cfg(), "train")
    frames, label, index, meta = dataset[0]
    assert label.shape == (5,) and 1 <= label.sum() <= 3
    assert [tuple(f.shape) for f in frames] == [(3, 2, 32, 32), (3, 8, 32, 32)]


def test_build_dataset_names(kinetics_cfg):
    assert type(build_dataset("Kinetics", kinetics_cfg(), "val")).__name__ == "Kinetics"
    with pytest.raises(ConfigError, match="'kinetic'.*Charades, Kinetics, Ssv2"):
        build_dataset("kinetic", kinetics_cfg(), "train")
    with pytest.raises(ValueError, match="split"):
        build_dataset("kinetics", kinetics_cfg(), "training")


def test_decoded_video_cache_serves_later_clips(kinetics_cfg):
    from slowfast.datasets import cache

    cache.clear()
    dataset = build_dataset("kinetics", kinetics_cfg("DATA.DECODED_CACHE_MB", 16), "train")
    first = dataset[0][0][1]
    held = cache.cached_bytes()
    assert held == 21 * 48 * 64 * 3  # the whole 1.4 s, 15 fps video
    assert dataset[0][0][1].shape == first.shape and cache.cached_bytes() == held
    cache.clear()


@pytest.mark.parametrize("fmt", ["kinetics", "ssv2"])
def test_decoding_at_the_drawn_scale_keeps_the_augmentation(kinetics_cfg, ssv2_cfg, fmt):
    """DATA.DECODE_AT_SCALE changes where the resize happens, not which frames, scale, crop or
    flip a seeded item gets: the same clip within the filters' difference."""
    make = {"kinetics": kinetics_cfg, "ssv2": ssv2_cfg}[fmt]
    at_scale = build_dataset(fmt, make("DATA.DECODE_AT_SCALE", True), "train")
    after = build_dataset(fmt, make("DATA.DECODE_AT_SCALE", False), "train")
    # The second shape lets SSv2's 64x48 JPEG frames be decoded at half scale (48 >= 2 x 22).
    coarse = ClipShape(4, 16, 16, 22, 2)
    for index, seed, shape in (
        (0, 11, ClipShape(4, 24, 26, 36, 2)),
        (3, 12, coarse),
        (5, 13, coarse),
    ):
        a, label_a, _, _ = at_scale[(index, shape, seed)]
        b, label_b, _, _ = after[(index, shape, seed)]
        assert label_a == label_b
        assert [tuple(x.shape) for x in a] == [tuple(x.shape) for x in b]
        diff = (a[-1] - b[-1]).abs().mean().item()  # normalised units: 1 level is ~0.017
        assert diff < 0.1, diff


def test_read_random_clip_decodes_at_the_scale_the_transform_draws(kinetics_cfg):
    import random

    from slowfast.datasets import transform

    dataset = build_dataset("kinetics", kinetics_cfg(), "train")
    shape = ClipShape(4, 24, 26, 36, 2)
    rng = random.Random(5)
    frames, _ = dataset.read_random_clip(1, shape, rng)
    state = rng.getstate()
    # The transform then draws that very scale (so it does not resize again).
    size = transform.train_scale(26, 36, 24, rng)
    assert min(frames.shape[1:3]) == size and 26 <= size <= 36
    rng.setstate(state)
    plain = build_dataset("kinetics", kinetics_cfg("DATA.DECODE_AT_SCALE", False), "train")
    full, _ = plain.read_random_clip(1, shape, random.Random(5))
    assert full.shape[1:3] == (48, 64)


def test_unusable_torchvision_backend_falls_back_with_one_log_line(
    kinetics_cfg, monkeypatch, caplog
):
    import sys

    from slowfast.datasets import options

    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setattr(options, "_backend_notes_logged", set())
    cfg = kinetics_cfg("DATA.DECODING_BACKEND", "torchvision")
    with caplog.at_level("WARNING"):
        first = build_dataset("kinetics", cfg, "train")
        build_dataset("kinetics", cfg, "val")
    notes = [r.getMessage() for r in caplog.records if "DECODING_BACKEND" in r.getMessage()]
    assert len(notes) == 1 and notes[0].endswith("decoding with PyAV instead")
    assert first.backend == "pyav"
    assert first[0][0][0].shape == (3, 2, 32, 32)


def test_missing_decord_backend_is_a_config_error(kinetics_cfg, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "decord", None)
    with pytest.raises(ConfigError, match="DATA.DECODING_BACKEND: decord cannot be imported"):
        build_dataset("kinetics", kinetics_cfg("DATA.DECODING_BACKEND", "decord"), "train")


@pytest.mark.parametrize("fmt", ["kinetics", "ssv2"])
def test_several_clips_of_a_video_are_cut_from_one_decode(kinetics_cfg, ssv2_cfg, fmt):
    from slowfast.datasets.decoder import DECODE_STATS

    make = {"kinetics": kinetics_cfg, "ssv2": ssv2_cfg}[fmt]
    dataset = build_dataset(fmt, make(), "train")
    shape = ClipShape(4, 16, 16, 22, 1, 3)
    keys = [(2, shape, 101), (4, shape, 7), (2, shape, 102), (2, shape, 103), (4, shape, 8)]
    frames_before = DECODE_STATS["frames"]
    together = dataset.__getitems__(keys)
    decoded_together = DECODE_STATS["frames"] - frames_before
    frames_before = DECODE_STATS["frames"]
    alone = [dataset[key] for key in keys]
    decoded_alone = DECODE_STATS["frames"] - frames_before
    for (a, label_a, index_a, _), (b, label_b, index_b, _) in zip(together, alone):
        assert (label_a, index_a) == (label_b, index_b)
        assert [x.shape for x in a] == [x.shape for x in b]
        if fmt == "ssv2":  # frame files: the same frames, read once at the largest scale
            assert (a[-1] - b[-1]).abs().mean().item() < 0.1
    assert [i for _, _, i, _ in together] == [2, 4, 2, 2, 4]
    # Video: the clips of one video are cut from one stretch, each at its own place and crop.
    first, third = together[0][0][-1], together[2][0][-1]
    assert not torch.equal(first, third)
    assert decoded_together < decoded_alone


def test_one_decode_for_several_clips_falls_back_on_a_broken_video(kinetics_cfg, tmp_path):
    import shutil

    folder = kinetics_cfg().DATA.PATH_TO_DATA_DIR
    copy = tmp_path / "kinetics"
    shutil.copytree(folder, copy)
    cfg = kinetics_cfg("DATA.PATH_TO_DATA_DIR", str(copy), "DATA.PATH_PREFIX", str(copy))
    dataset = build_dataset("kinetics", cfg, "train")
    index = 3
    broken = dataset.records[index].path
    with open(broken, "wb") as f:
        f.write(b"not a video")
    shape = ClipShape(4, 16, 16, 16, 1)
    items = dataset.__getitems__([(index, shape, 1), (index, shape, 2)])
    for _, _, got, meta in items:  # each replaced by another video, and the skip recorded
        assert got != index and meta["skipped"] == [broken]
