"""The batch sampler that carries the schedule's shapes to the dataset, and its loaders.

:class:`ScheduledBatchSampler` yields, for every iteration of a list of ``(global batch size,
ClipShape)`` pairs (an epoch of an :class:`~slowfast.multigrid.plan.IterationPlan`, or a run of
precise-BN batches), this process's share of the batch as ``[(index, shape), ...]``. Each epoch a
random permutation of the dataset, seeded by ``(seed, epoch)``, is dealt out to the processes
(process ``rank`` gets every ``world``-th index from ``rank`` on, as ``DistributedSampler``
does); each iteration a process takes its ``global batch / world`` next indices from its share,
which is reshuffled when it runs out (an epoch of iteration phases can need a few more clips
than the dataset holds). So every process sees the same shapes at the same iteration, no index
is seen by two processes in an epoch, and an epoch repeats exactly for a given seed: every item
carries its own augmentation seed (``(index, shape, seed)`` keys), and a pass can start at any
iteration without loading the ones before it, so a run resumed mid-epoch sees the batches an
uninterrupted one would. The dataset is built once for all phases.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from fvcore.common.config import CfgNode
from torch.utils.data import DataLoader, Dataset, Sampler

from slowfast.datasets.loader import ResumableBatches, build_loader, world_size
from slowfast.datasets.shape import ClipShape
from slowfast.multigrid.plan import IterationPlan, PhaseSpan
from slowfast.utils.distributed import get_rank


class ScheduledBatchSampler(ResumableBatches, Sampler[list[tuple[int, ClipShape, int]]]):
    """Per-process batches of ``(index, shape, seed)`` for a given list of iterations."""

    def __init__(
        self,
        batches: Sequence[tuple[int, ClipShape]],
        num_items: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        epoch: int = 0,
        clips_per_decode: int = 1,
        base_batch: int = 0,
    ):
        if num_items < 1:
            raise ValueError(f"num_items must be >= 1, got {num_items}")
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is outside [0, {world})")
        for size, _ in batches:
            if size < world or size % world:
                raise ValueError(
                    f"a global batch of {size} cannot be split evenly over {world} processes"
                )
        if clips_per_decode < 1:
            raise ValueError(f"clips_per_decode must be >= 1, got {clips_per_decode}")
        self.batches = list(batches)
        self.num_items = num_items
        self.seed = seed
        self.rank = rank
        self.world = world
        self.epoch = epoch
        self.clips_per_decode = clips_per_decode
        self.base_batch = base_batch

    def repeats(self, size: int) -> int:
        """Clips cut from each decoded video in an iteration of global batch ``size``: up to
        ``clips_per_decode``, at most the batch's factor over the base batch (the full-shape
        iterations keep one clip per video), and dividing this process's share of the batch."""
        if self.clips_per_decode == 1 or self.base_batch <= 0:
            return 1
        share = size // self.world
        k = min(self.clips_per_decode, max(size // self.base_batch, 1), share)
        while share % k:
            k -= 1
        return k

    def _stream(self) -> Iterator[int]:
        """This process's indices: its share of the epoch's permutation, then the same share
        reshuffled as often as needed."""
        generator = torch.Generator()
        generator.manual_seed((self.seed * 1_000_003 + self.epoch) * 1_009)
        share = torch.randperm(self.num_items, generator=generator)[self.rank :: self.world]
        if len(share) == 0:
            share = torch.tensor([self.rank % self.num_items])
        while True:
            yield from share.tolist()
            share = share[torch.randperm(len(share), generator=generator)]

    def __iter__(self) -> Iterator[list[tuple[int, ClipShape, int]]]:
        start = self._take_start()
        stream = self._stream()
        for it, (size, shape) in enumerate(self.batches):
            k = self.repeats(size)
            videos = [next(stream) for _ in range(size // self.world // k)]
            if it >= start:
                yield self._keys(it, [v for v in videos for _ in range(k)], shape)

    def __len__(self) -> int:
        return len(self.batches)


def epoch_loader(dataset: Dataset, plan: IterationPlan, epoch: int, cfg: CfgNode) -> DataLoader:
    """The training loader of ``epoch``: its iterations' batch sizes and shapes from ``plan``."""
    sampler = ScheduledBatchSampler(
        plan.batches(epoch),
        len(dataset),
        cfg.RNG_SEED,
        get_rank(),
        world_size(cfg),
        epoch,
        clips_per_decode=cfg.DATA.CLIPS_PER_DECODE,
        base_batch=plan.schedule.default_batch_size,
    )
    return build_loader(dataset, cfg, sampler)


def precise_bn_loader(dataset: Dataset, span: PhaseSpan, cfg: CfgNode) -> DataLoader:
    """BN.NUM_BATCHES_PRECISE batches at the phase's own shape and batch size (no short cycle),
    reshuffled per epoch by :func:`~slowfast.datasets.loader.shuffle_dataset`."""
    batches = [(span.phase.batch_size, span.shapes[-1])] * cfg.BN.NUM_BATCHES_PRECISE
    sampler = ScheduledBatchSampler(
        batches, len(dataset), cfg.RNG_SEED + 1, get_rank(), world_size(cfg)
    )
    return build_loader(dataset, cfg, sampler)
