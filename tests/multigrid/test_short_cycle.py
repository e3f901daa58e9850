"""The short-cycle batch sampler and crop rule: sizes, shape order, len, distributed ranks."""

from __future__ import annotations

import pytest
from torch.utils.data import DistributedSampler, RandomSampler, SequentialSampler

from slowfast.config import get_cfg
from slowfast.multigrid.short_cycle import (
    ShortCycleBatchSampler,
    short_cycle_batch_sizes,
    train_crop_and_scales,
)


def cfg_with(crop: int = 224, default_s: int = 0):
    cfg = get_cfg()
    cfg.DATA.TRAIN_CROP_SIZE, cfg.MULTIGRID.DEFAULT_S = crop, default_s
    return cfg


def test_batch_sizes_follow_pyslowfast():
    assert short_cycle_batch_sizes(cfg_with(), 8) == [32, 16, 8]
    assert short_cycle_batch_sizes(cfg_with(224, 224), 8) == [32, 16, 8]
    # A long-cycle phase at crop 158 of a 224 default: (158/112)^2 -> 2, (158/158.4)^2 -> 1.
    assert short_cycle_batch_sizes(cfg_with(158, 224), 8) == [16, 8, 8]
    # Never an empty batch: (112/158.4)^2 = 0.5 rounds to 0, kept at one batch.
    assert short_cycle_batch_sizes(cfg_with(112, 224), 8) == [8, 8, 8]


def test_crop_and_jitter_of_each_shape():
    cfg = cfg_with()
    assert train_crop_and_scales(cfg) == (224, 256, 320)
    assert train_crop_and_scales(cfg, 0) == (112, 128, 320)
    assert train_crop_and_scales(cfg, 1) == (158, 181, 320)
    assert train_crop_and_scales(cfg, 2) == (224, 256, 320)
    phase = cfg_with(158, 224)  # the long cycle changed the crop; factors stay relative to 224
    assert train_crop_and_scales(phase) == (158, 181, 320)
    assert train_crop_and_scales(phase, 0) == (112, 128, 320)
    with pytest.raises(ValueError, match="shape id -1 is outside"):
        train_crop_and_scales(cfg, -1)


def test_shapes_cycle_and_every_index_is_used_once():
    sampler = ShortCycleBatchSampler(RandomSampler(range(100)), 4, False, cfg_with())
    batches = list(sampler)
    sizes = [len(b) for b in batches]
    ids = [{shape for _, shape in b} for b in batches]
    assert sizes == [16, 8, 4] * 3 + [16]  # 3 cycles of 28, then the last 16
    assert ids == [{k % 3} for k in range(len(batches))]
    assert sorted(i for b in batches for i, _ in b) == list(range(100))


@pytest.mark.parametrize("drop_last", [True, False])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_len_equals_the_batches_yielded(drop_last, batch_size):
    cfg = cfg_with()
    for n in range(0, 80):
        sampler = ShortCycleBatchSampler(SequentialSampler(range(n)), batch_size, drop_last, cfg)
        batches = list(sampler)
        assert len(sampler) == len(batches), n
        if drop_last:
            assert all(len(b) == sampler.batch_sizes[k % 3] for k, b in enumerate(batches))


def test_two_ranks_share_shapes_and_split_indices():
    runs = []
    for rank in (0, 1):
        ranks = DistributedSampler(range(120), num_replicas=2, rank=rank, shuffle=True, seed=3)
        ranks.set_epoch(2)
        runs.append(list(ShortCycleBatchSampler(ranks, 2, True, cfg_with())))
    shapes = [[(len(b), b[0][1]) for b in run] for run in runs]
    assert shapes[0] == shapes[1] and len(shapes[0]) == len(runs[0])
    seen = [{i for b in run for i, _ in b} for run in runs]
    assert not seen[0] & seen[1]
    assert len(seen[0]) == len(seen[1]) == 56  # 60 per rank: 4 cycles of 8+4+2, 4 left over


def test_invalid_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        ShortCycleBatchSampler(SequentialSampler(range(4)), 0, True, cfg_with())
    with pytest.raises(ValueError, match="drop_last"):
        ShortCycleBatchSampler(SequentialSampler(range(4)), 2, 1, cfg_with())
