"""Data loaders for training, validation and testing.

:func:`construct_loader` builds the dataset named by the config and wraps it in a ``DataLoader``:

* per-process batch = ``TRAIN.BATCH_SIZE`` (train, val) or ``TEST.BATCH_SIZE`` (test), a global
  size, divided by the number of processes — the torch.distributed world size when a process
  group is up, else ``max(1, NUM_GPUS) * NUM_SHARDS``;
* a ``DistributedSampler`` (seeded with ``RNG_SEED``) when the world size is above one, else a
  random (train) or sequential sampler; training drops the last incomplete batch;
* clips of the configured shape: multigrid's changing shapes (long and short cycles) come from
  :mod:`slowfast.multigrid.sampler`, which wraps the same dataset with :func:`build_loader`;
* reproducible augmentation: a ``torch.Generator`` seeded from ``RNG_SEED`` drives the shuffling,
  and :func:`shuffle_dataset` reseeds it from (``RNG_SEED``, epoch); every training item gets its
  own augmentation seed from (``RNG_SEED``, epoch, rank, iteration, slot) (:func:`item_seed`), so
  a clip does not depend on the number of workers or on what was loaded before it;
* resumable: a training batch sampler can start an epoch at any iteration
  (:func:`start_at`) without loading the batches before it, which with the item seeds gives a
  run resumed mid-epoch exactly the batches of an uninterrupted one;
* decoder threads: all cores when loading in the main process, ``cores // NUM_WORKERS`` in each
  worker (threads beyond the free cores only add overhead).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from fvcore.common.config import CfgNode
from torch.utils.data import (
    BatchSampler,
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
from slowfast.utils.preemption import shield_worker

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
    shield_worker()  # preemption signals are for the training process, which stops the loader
    info = get_worker_info()
    if hasattr(info.dataset, "reseed"):
        info.dataset.reseed(info.seed)
    if hasattr(info.dataset, "decode_threads"):
        # The workers already keep the cores busy: give each decoder its share, not all.
        info.dataset.decode_threads = max(1, len(os.sched_getaffinity(0)) // info.num_workers)


def index_sampler(
    dataset: Any, shuffle: bool, seed: int, generator: torch.Generator | None = None
) -> Sampler[int]:
    """The per-item sampler: distributed (seeded with ``seed``) when the world has several
    processes, else random (drawing from ``generator``) or sequential."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return DistributedSampler(dataset, shuffle=shuffle, seed=seed)
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
    seed, workers = cfg.RNG_SEED, cfg.DATA_LOADER.NUM_WORKERS
    generator = seeded_generator(dataset, seed)
    sampler = index_sampler(dataset, train, seed, generator)
    if train:
        # A dataset of the user's own that takes plain indices (as PySlowFast's do) gets them.
        keyed = bool(getattr(dataset, "accepts_item_seeds", False))
        batches = TrainBatchSampler(sampler, batch_size, seed, _rank(), keyed)
        return make_loader(
            dataset, seed, generator, workers, cfg.DATA_LOADER.PIN_MEMORY, batch_sampler=batches
        )
    return make_loader(
        dataset,
        seed,
        generator,
        workers,
        cfg.DATA_LOADER.PIN_MEMORY,
        sampler=sampler,
        batch_size=batch_size,
    )


def item_seed(seed: int, epoch: int, rank: int, iteration: int, slot: int) -> int:
    """The augmentation seed of the ``slot``-th item of a process's batch ``iteration`` (an
    epoch's 0-based iteration); the same numbers give the same seed on every machine."""
    digest = hashlib.blake2b(f"{seed}/{epoch}/{rank}/{iteration}/{slot}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "little")


class ResumableBatches:
    """What a training batch sampler shares: the epoch, and an iteration to start the next pass
    at (:func:`start_at`), after which passes start at 0 again."""

    epoch = 0
    _start = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def start_at(self, iteration: int) -> None:
        if not 0 <= iteration <= len(self):
            raise ValueError(f"cannot start at iteration {iteration} of {len(self)}")
        self._start = iteration

    def _take_start(self) -> int:
        start, self._start = self._start, 0
        return start

    def _keys(self, iteration: int, indices: list[int], shape: Any = None) -> list[tuple]:
        """``(index, shape, seed)`` keys of one batch (needs ``seed`` and ``rank``)."""
        return [
            (index, shape, item_seed(self.seed, self.epoch, self.rank, iteration, slot))
            for slot, index in enumerate(indices)
        ]


class TrainBatchSampler(ResumableBatches, Sampler[list]):
    """Batches of ``sampler``'s indices (the last incomplete one dropped), each index with the
    item's augmentation seed, as ``(index, None, seed)`` keys (None: the config's clip shape).

    With ``keyed=False`` the batches hold plain indices, for datasets that take nothing else;
    a pass can still start mid-epoch, with the same indices but the dataset's own random
    stream for the augmentations.
    """

    def __init__(
        self, sampler: Sampler[int], batch_size: int, seed: int, rank: int = 0, keyed: bool = True
    ):
        self.batches = BatchSampler(sampler, batch_size, drop_last=True)
        self.seed = seed
        self.rank = rank
        self.keyed = keyed

    @property
    def sampler(self) -> Sampler[int]:
        return self.batches.sampler

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[list]:
        start = self._take_start()
        for it, batch in enumerate(self.batches):
            if it >= start and not self.keyed:
                yield batch
            elif it >= start:
                yield self._keys(it, batch)

    def __len__(self) -> int:
        return len(self.batches)


def start_at(loader: DataLoader, iteration: int) -> None:
    """Make the loader's next pass begin at ``iteration`` of its epoch (resuming mid-epoch); the
    batches before it are not loaded."""
    if iteration == 0:
        return
    if not isinstance(loader.batch_sampler, ResumableBatches):
        raise TypeError(
            f"a loader with a {type(loader.batch_sampler).__name__} cannot start mid-epoch"
        )
    loader.batch_sampler.start_at(iteration)


def build_loader(dataset: Any, cfg: CfgNode, batch_sampler: Sampler) -> DataLoader:
    """A loader of ``dataset`` driven by ``batch_sampler``, with the same workers, seeding and
    collation as :func:`construct_loader` (multigrid's scheduled batches use it)."""
    seed = cfg.RNG_SEED
    return make_loader(
        dataset,
        seed,
        seeded_generator(dataset, seed),
        cfg.DATA_LOADER.NUM_WORKERS,
        cfg.DATA_LOADER.PIN_MEMORY,
        batch_sampler=batch_sampler,
    )


def seeded_generator(dataset: Any, seed: int) -> torch.Generator:
    """The loader's generator, seeded with ``seed``; it also seeds the dataset's augmentation
    stream used when loading in this process (NUM_WORKERS 0)."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    if hasattr(dataset, "reseed"):
        dataset.reseed(int(torch.randint(2**62, (1,), generator=generator)))
    return generator


def make_loader(
    dataset: Any,
    seed: int,
    generator: torch.Generator,
    num_workers: int = 0,
    pin_memory: bool = False,
    **sampling: Any,
) -> DataLoader:
    """A ``DataLoader`` with this package's collation and worker set-up; ``sampling`` is the
    ``DataLoader``'s (``batch_sampler``, or ``sampler`` and ``batch_size``)."""
    loader = DataLoader(
        dataset,
        num_workers=num_workers,
        pin_memory=pin_memory and torch.cuda.is_available(),
        collate_fn=collate,
        worker_init_fn=seed_worker,
        generator=generator,
        persistent_workers=False,
        **sampling,
    )
    loader.base_seed = seed  # shuffle_dataset derives each epoch's streams from it
    return loader


def _rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def shuffle_dataset(loader: DataLoader, epoch: int) -> None:
    """Start epoch ``epoch``: tell a distributed sampler, or a batch sampler that has
    ``set_epoch``, the epoch and reseed the loader's shuffling and augmentation streams from it.
    """
    if hasattr(loader.batch_sampler, "set_epoch"):
        loader.batch_sampler.set_epoch(epoch)  # a training batch sampler tells its sampler
    elif isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)
    # Each epoch's order and augmentations depend only on (RNG_SEED, epoch), so a run resumed
    # at any epoch sees exactly the data an uninterrupted run would have seen.
    seed = getattr(loader, "base_seed", None)
    if seed is not None and loader.generator is not None:
        # The process's rank is mixed in so that processes draw different augmentations.
        loader.generator.manual_seed((int(seed) * 1_000_003 + int(epoch)) * 1_009 + _rank())
        if hasattr(loader.dataset, "reseed"):
            loader.dataset.reseed(int(torch.randint(2**62, (1,), generator=loader.generator)))
