"""Loaders: batching and collation, scheduled shapes, per-process batch, reproducible seeding."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from slowfast.config.errors import ConfigError
from slowfast.datasets import build_dataset
from slowfast.datasets.loader import (
    build_loader,
    construct_loader,
    per_process_batch_size,
    shuffle_dataset,
)
from slowfast.datasets.shape import ClipShape
from slowfast.multigrid.sampler import ScheduledBatchSampler


def test_train_and_test_batches(kinetics_cfg):
    frames, labels, index, meta = next(iter(construct_loader(kinetics_cfg(), "train")))
    assert [tuple(f.shape) for f in frames] == [(4, 3, 2, 32, 32), (4, 3, 8, 32, 32)]
    assert labels.dtype == torch.int64 and labels.shape == (4,)
    assert meta["skipped"] == [] and meta["failed"].tolist() == [False] * 4
    assert torch.equal(meta["video_idx"], index)
    loader = construct_loader(kinetics_cfg(), "train")
    assert len(loader) == 2  # 8 videos, batches of 4, last incomplete batch dropped

    test = construct_loader(kinetics_cfg(), "test")
    batches = list(test)
    assert [b[2].tolist() for b in batches] == [list(range(6)), list(range(6, 12))]
    assert [b[3]["video_idx"].tolist() for b in batches] == [[0] * 6, [1] * 6]
    assert tuple(batches[0][0][1].shape) == (6, 3, 8, 40, 40)


def test_charades_targets_collate_to_a_float_matrix(charades_cfg):
    frames, labels, index, meta = next(iter(construct_loader(charades_cfg(), "val")))
    assert labels.dtype == torch.float32 and labels.shape == (3, 5)  # 3 val videos


def test_a_scheduled_loader_yields_each_batch_at_its_shape(kinetics_cfg):
    cfg = kinetics_cfg()
    dataset = build_dataset("kinetics", cfg, "train")
    small, full = ClipShape(4, 16, 16, 40, 1, 2), ClipShape(8, 32, 32, 40, 1)
    sampler = ScheduledBatchSampler([(4, small), (2, full), (4, small)], len(dataset), seed=0)
    loader = build_loader(dataset, cfg, sampler)
    shapes = [tuple(f[1].shape) for f, *_ in loader]
    assert shapes == [(4, 3, 4, 16, 16), (2, 3, 8, 32, 32), (4, 3, 4, 16, 16)]
    assert len(loader) == 3


def test_per_process_batch_size(kinetics_cfg):
    assert per_process_batch_size(kinetics_cfg("NUM_GPUS", 2), "train") == 2
    assert per_process_batch_size(kinetics_cfg("NUM_GPUS", 2, "NUM_SHARDS", 3), "test") == 1
    with pytest.raises(ConfigError, match="TRAIN.BATCH_SIZE=4 must be a positive multiple of"):
        per_process_batch_size(kinetics_cfg("NUM_GPUS", 3), "val")


@pytest.mark.parametrize("workers", [0, 1])
def test_same_seed_same_batches_new_epoch_new_batches(kinetics_cfg, workers):
    def first_batches(seed: int, epochs: int = 1):
        loader = construct_loader(
            kinetics_cfg("RNG_SEED", seed, "DATA_LOADER.NUM_WORKERS", workers), "train"
        )
        return [next(iter(loader)) for _ in range(epochs)]

    (a1, a2), (b1,) = first_batches(7, epochs=2), first_batches(7)
    assert torch.equal(a1[2], b1[2]) and torch.equal(a1[0][1], b1[0][1])
    assert not torch.equal(a1[0][1], a2[0][1])  # the next epoch: new order and augmentations
    (c1,) = first_batches(8)
    assert not torch.equal(a1[0][1], c1[0][1])


def test_shuffle_dataset_makes_each_epoch_a_function_of_seed_and_epoch(kinetics_cfg):
    loader = construct_loader(kinetics_cfg("RNG_SEED", 5), "train")

    def epoch(number: int):
        shuffle_dataset(loader, number)
        return next(iter(loader))

    third, fourth, third_again = epoch(3), epoch(4), epoch(3)
    assert torch.equal(third[0][1], third_again[0][1]) and torch.equal(third[2], third_again[2])
    assert not torch.equal(third[0][1], fourth[0][1])


def test_shuffle_dataset_sets_the_epoch_of_samplers_and_batch_samplers():
    dataset = list(range(20))
    shape = ClipShape(4, 16, 16, 16, 1)
    scheduled = ScheduledBatchSampler([(2, shape)] * 3, len(dataset), seed=0)
    shuffle_dataset(DataLoader(dataset, batch_sampler=scheduled), 5)
    assert scheduled.epoch == 5
    sampler = DistributedSampler(dataset, num_replicas=2, rank=1, shuffle=True, seed=0)
    shuffle_dataset(DataLoader(dataset, sampler=sampler, batch_size=2), 6)
    assert sampler.epoch == 6


def test_train_batches_carry_item_seeds_and_start_mid_epoch():
    from torch.utils.data import RandomSampler

    from slowfast.datasets.loader import TrainBatchSampler, item_seed, start_at

    def sampler():
        generator = torch.Generator()
        generator.manual_seed(3)
        return RandomSampler(range(10), generator=generator)

    full = list(TrainBatchSampler(sampler(), 3, seed=7, rank=1))
    assert len(full) == 3  # the incomplete last batch is dropped
    assert [len(b) for b in full] == [3, 3, 3]
    assert full[1][2][1:] == (None, item_seed(7, 0, 1, 1, 2))
    assert len({seed for b in full for _, _, seed in b}) == 9
    # Starting at iteration 2 yields exactly the rest of the same pass, then passes start at 0.
    batches = TrainBatchSampler(sampler(), 3, seed=7, rank=1)
    loader = DataLoader(list(range(10)), batch_sampler=batches, collate_fn=lambda b: b)
    start_at(loader, 2)
    assert list(batches) == full[2:]
    assert len(list(batches)) == 3
    with pytest.raises(ValueError, match="cannot start at iteration 4 of 3"):
        start_at(loader, 4)
    # A dataset that only takes plain indices gets plain indices (the same ones).
    plain = list(TrainBatchSampler(sampler(), 3, seed=7, keyed=False))
    assert plain == [[i for i, _, _ in b] for b in full]


def test_start_at_refuses_a_loader_that_cannot_skip():
    from slowfast.datasets.loader import start_at

    with pytest.raises(TypeError, match="BatchSampler cannot start mid-epoch"):
        start_at(DataLoader(list(range(4)), batch_size=2), 1)


def test_a_keyed_item_does_not_depend_on_what_was_loaded_before(kinetics_cfg):
    dataset = build_dataset("kinetics", kinetics_cfg(), "train")
    first = dataset[(3, None, 12345)]
    for i in range(4):  # advance the dataset's own stream
        dataset[i]
    again = dataset[(3, None, 12345)]
    assert all(torch.equal(a, b) for a, b in zip(first[0], again[0]))
    other = dataset[(3, None, 54321)]
    assert not all(torch.equal(a, b) for a, b in zip(first[0], other[0]))
