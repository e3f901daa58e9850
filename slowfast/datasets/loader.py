"""Data loaders for training, validation and testing.

:func:`construct_loader` builds the dataset named by the config and wraps it in a ``DataLoader``:

* per-process batch = ``TRAIN.BATCH_SIZE`` (train, val) or ``TEST.BATCH_SIZE`` (test), a global
  size, divided by the number of processes — the torch.distributed world size when a process
  group is up, else ``max(1, NUM_GPUS) * NUM_SHARDS``;
* a ``DistributedSampler`` (seeded with ``RNG_SEED``) when the world size is above one, else a
  random (train) or sequential sampler; training drops the last incomplete batch;
* clips of the configured shape: multigrid's changing shapes (long and short cycles) come from
  :mod:`slowfast.multigrid.sampler`, which wraps the same dataset with :func:`build_loader`;
* reproducible augmentation: a ``torch.Generator`` seeded from ``RNG_SEED`` drives the shuffling
  and the per-epoch worker seeds, and each worker reseeds its copy of the dataset's random stream,
  so workers and epochs differ while a given ``RNG_SEED`` repeats exactly;
  :func:`shuffle_dataset` reseeds it from (``RNG_SEED``, epoch), so a resumed run sees the same
  data as an uninterrupted one;
* decoder threads: all cores when loading in the main process, ``cores // NUM_WORKERS`` in each
  worker (threads beyond the free cores only add overhead).
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist
from fvcore.common.config import CfgNode
from torch.utils.data import (
    DataLoader,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    get_worker_info,
)
from torch.utils.data._utils.collate import default_collate

from slowfast.config.errors import ConfigError
from slowfast.datasets.build import build_dataset

SPLITS = ("train", "val", "test")


def collate(batch: list[tuple]) -> tuple[Any, Any, torch.Tensor, dict[str, Any]]:
    """Stack frames, labels and indices; merge the metas into one dict.

    Meta values that are lists (``skipped``) are concatenated over the batch; the others
    (``video_idx``, ``failed``) are collated into tensors.
    """
    frames, labels, indices, metas = zip(*batch)
    meta: dict[str, Any] = {}
    for key in metas[0]:
        values = [m[key] for m in metas]
        if isinstance(values[0], list):
            meta[key] = [v for value in values for v in value]
        else:
            meta[key] = default_collate(values)
    return default_collate(frames), default_collate(labels), default_collate(indices), meta


def world_size(cfg: CfgNode) -> int:
    """Number of training processes: the process group's size, else from NUM_GPUS/NUM_SHARDS."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return max(1, cfg.NUM_GPUS) * cfg.NUM_SHARDS


def per_process_batch_size(cfg: CfgNode, split: str) -> int:
    """The batch each process loads for ``split`` (the global batch over the processes)."""
    key = "TEST.BATCH_SIZE" if split == "test" else "TRAIN.BATCH_SIZE"
    total = cfg.TEST.BATCH_SIZE if split == "test" else cfg.TRAIN.BATCH_SIZE
    procs = world_size(cfg)
    if total <= 0 or total % procs:
        raise ConfigError(f"{key}={total} must be a positive multiple of the {procs} process(es)")
    return total // procs


def seed_worker(worker_id: int) -> None:
    """Per-worker set-up: an augmentation stream derived from the loader's seed, and a share of
    the CPU cores (cores // workers) for the worker's video decoder."""
    # Do not call cv2.setNumThreads here: in a worker forked after the parent used OpenCV's
    # thread pool it deadlocks.
    info = get_worker_info()
    if hasattr(info.dataset, "reseed"):
        info.dataset.reseed(info.seed)
    if hasattr(info.dataset, "decode_threads"):
        # The workers already keep the cores busy: give each decoder its share, not all.
        info.dataset.decode_threads = max(1, len(os.sched_getaffinity(0)) // info.num_workers)


def _index_sampler(
    dataset: Any, shuffle: bool, cfg: CfgNode, generator: torch.Generator
) -> Sampler[int]:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return DistributedSampler(dataset, shuffle=shuffle, seed=cfg.RNG_SEED)
    if shuffle:
        return RandomSampler(dataset, generator=generator)
    return SequentialSampler(dataset)


def construct_loader(cfg: CfgNode, split: str, is_precise_bn: bool = False) -> DataLoader:
    """The loader of ``split`` ("train", "val" or "test") for the current config, at its clip
    shape (``is_precise_bn`` is PySlowFast's argument; the loader is the same)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    name = cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET
    dataset = build_dataset(name, cfg, split)
    batch_size = per_process_batch_size(cfg, split)
    train = split == "train"
    generator = _seeded_generator(dataset, cfg)
    sampler = _index_sampler(dataset, train, cfg, generator)
    return _loader(
        dataset, cfg, generator, sampler=sampler, batch_size=batch_size, drop_last=train
    )


def build_loader(dataset: Any, cfg: CfgNode, batch_sampler: Sampler) -> DataLoader:
    """A loader of ``dataset`` driven by ``batch_sampler``, with the same workers, seeding and
    collation as :func:`construct_loader` (multigrid's scheduled batches use it)."""
    return _loader(dataset, cfg, _seeded_generator(dataset, cfg), batch_sampler=batch_sampler)


def _seeded_generator(dataset: Any, cfg: CfgNode) -> torch.Generator:
    """The loader's generator, seeded from RNG_SEED; it also seeds the dataset's augmentation
    stream used when loading in this process (NUM_WORKERS 0)."""
    generator = torch.Generator()
    generator.manual_seed(cfg.RNG_SEED)
    if hasattr(dataset, "reseed"):
        dataset.reseed(int(torch.randint(2**62, (1,), generator=generator)))
    return generator


def _loader(dataset: Any, cfg: CfgNode, generator: torch.Generator, **sampling: Any) -> DataLoader:
    loader = DataLoader(
        dataset,
        num_workers=cfg.DATA_LOADER.NUM_WORKERS,
        pin_memory=cfg.DATA_LOADER.PIN_MEMORY and torch.cuda.is_available(),
        collate_fn=collate,
        worker_init_fn=seed_worker,
        generator=generator,
        persistent_workers=False,
        **sampling,
    )
    loader.base_seed = cfg.RNG_SEED  # shuffle_dataset derives each epoch's streams from it
    return loader


def _rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def shuffle_dataset(loader: DataLoader, epoch: int) -> None:
    """Start epoch ``epoch``: tell a distributed sampler, or a batch sampler that has
    ``set_epoch``, the epoch and reseed the loader's shuffling and augmentation streams from it.
    """
    if hasattr(loader.batch_sampler, "set_epoch"):
        loader.batch_sampler.set_epoch(epoch)
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)
    # Each epoch's order and augmentations depend only on (RNG_SEED, epoch), so a run resumed
    # at any epoch sees exactly the data an uninterrupted run would have seen.
    seed = getattr(loader, "base_seed", None)
    if seed is not None and loader.generator is not None:
        # The process's rank is mixed in so that processes draw different augmentations.
        loader.generator.manual_seed((int(seed) * 1_000_003 + int(epoch)) * 1_009 + _rank())
        if hasattr(loader.dataset, "reseed"):
            loader.dataset.reseed(int(torch.randint(2**62, (1,), generator=loader.generator)))
