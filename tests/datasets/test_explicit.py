"""Datasets built from explicit arguments: parsed records, an injected clip sampler, options;
no config involved, and the same items as the config-built dataset."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
import torch

from slowfast.datasets import build_dataset
from slowfast.datasets.clip_sampler import ClipSampler
from slowfast.datasets.kinetics import Kinetics
from slowfast.datasets.options import DatasetOptions
from slowfast.datasets.packing import Packing, pack_pathway_output
from slowfast.datasets.sampling import RANDOM_VIEW
from slowfast.datasets.video_dataset import AnnotationSource, VideoDataset, VideoRecord


def test_a_dataset_from_records_matches_the_config_built_one(kinetics_cfg):
    cfg = kinetics_cfg()
    source = AnnotationSource(cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.PATH_PREFIX, num_classes=4)
    records, path = Kinetics.read_annotations("train", source)
    assert path.endswith("train.csv") and len(records) == 8
    options = DatasetOptions.from_cfg(cfg)
    explicit = Kinetics(records, "train", ClipSampler("clip", 1, cfg.DATA.TARGET_FPS), options)
    built = build_dataset("kinetics", cfg, "train")
    assert built.records == explicit.records and built.options == explicit.options
    for dataset in (explicit, built):
        dataset.reseed(11)
    a, b = explicit[(3, None, 5)], built[(3, None, 5)]
    assert all(torch.equal(x, y) for x, y in zip(a[0], b[0])) and a[1:] == b[1:]


def test_the_injected_sampler_picks_the_frames(kinetics_cfg):
    cfg = kinetics_cfg()
    records, _ = Kinetics.read_annotations("test", AnnotationSource.from_cfg(cfg))
    options = DatasetOptions(
        num_classes=4,
        num_frames=4,
        sampling_rate=1,
        train_crop_size=16,
        jitter_scales=(16, 20),
        test_crop_size=16,
        num_spatial_crops=1,
    )
    # Any VideoDataset takes any sampler: here Kinetics videos with SSv2's segment rule.
    dataset = VideoDataset(records, "test", ClipSampler("segment", 2), options)
    assert dataset.num_views == 2 and len(dataset) == 2 * len(records)
    frames, label, index, meta = dataset[1]
    assert [tuple(f.shape) for f in frames] == [(3, 4, 16, 16)]  # single pathway by default
    with dataset._open(records[0]) as reader:
        expected = ClipSampler("segment", 2).indices(
            reader.num_frames, reader.fps, 1, 1, 4, random.Random(0)
        )
        assert dataset._test_frames(0)[0][1] == expected


def test_clip_sampler_and_options_check_their_arguments():
    with pytest.raises(ValueError, match="rule must be one of"):
        ClipSampler("random")
    with pytest.raises(ValueError, match="num_test_views must be >= 1"):
        ClipSampler("clip", 0)
    record = VideoRecord(name="v", label=0, path="v.mp4")
    with pytest.raises(ValueError, match="num_spatial_crops must be 1 or 3"):
        VideoDataset([record], "test", ClipSampler(), DatasetOptions(4, num_spatial_crops=2))
    indices = ClipSampler("stride").indices(100, None, RANDOM_VIEW, 2, 4, random.Random(1))
    assert [b - a for a, b in zip(indices, indices[1:])] == [2, 2, 2]


def test_packing_matches_pyslowfast_packing(kinetics_cfg):
    clip = torch.arange(3 * 8 * 2 * 2, dtype=torch.float32).view(3, 8, 2, 2)
    cfg = kinetics_cfg()
    assert Packing.from_cfg(cfg) == Packing(alpha=cfg.SLOWFAST.ALPHA)
    packed, reference = Packing(alpha=4)(clip), pack_pathway_output(cfg, clip)
    assert all(torch.equal(x, y) for x, y in zip(packed, reference))
    assert torch.equal(Packing(None, reverse_channels=True)(clip)[0], clip.flip(0))


def test_multiview_clips_decode_each_video_once_and_keep_two(kinetics_cfg, monkeypatch):
    """Views of one video share one decode; the per-process cache keeps the last two videos;
    one spatial crop is the centre crop of the three."""
    cfg = kinetics_cfg()
    # The training split's 8 videos, read as test videos: more than the cache keeps.
    records, _ = Kinetics.read_annotations("train", AnnotationSource.from_cfg(cfg))
    options = DatasetOptions(
        num_classes=4, num_frames=4, sampling_rate=1, train_crop_size=16, jitter_scales=(16, 20),
        test_crop_size=16, num_spatial_crops=3,
    )  # fmt: skip
    three = VideoDataset(records, "test", ClipSampler("clip", 2), options)
    opened = []
    real_open = three._open
    monkeypatch.setattr(
        three, "_open", lambda record: opened.append(record.name) or real_open(record)
    )
    for index in range(2 * three.num_views):  # every view of the first two videos, in order
        three[index]
    assert opened == [records[0].name, records[1].name]
    three[2 * three.num_views]  # a third video evicts the first
    assert list(three._test_cache) == [1, 2]
    centre = three[1][0][0]  # view 0, crop 1
    one = VideoDataset(
        records, "test", ClipSampler("clip", 2), replace(options, num_spatial_crops=1)
    )
    assert one.num_views == 2 and torch.equal(one[0][0][0], centre)
