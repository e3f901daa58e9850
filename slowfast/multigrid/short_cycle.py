"""Multigrid's short cycle: per-iteration crop sizes, and the batch sampler that drives them.

The short cycle (Wu et al., CVPR 2020) cycles through ``len(SHORT_CYCLE_FACTORS) + 1`` spatial
shapes, one per iteration: crops of ``factor * S_default`` pixels with batches scaled up so that
``B * S**2`` stays roughly constant, then the phase's own crop ``DATA.TRAIN_CROP_SIZE`` at the
phase's batch size. :class:`ShortCycleBatchSampler` yields each batch as ``(index, shape_id)``
pairs; every dataset hands the id to :func:`train_crop_and_scales`, the one place that turns an id
into a crop size and scale-jitter range.

``S_default`` is ``MULTIGRID.DEFAULT_S`` (the crop before the long cycle changed it) when set,
else ``DATA.TRAIN_CROP_SIZE``.
"""

from __future__ import annotations

from collections.abc import Iterator

from fvcore.common.config import CfgNode
from torch.utils.data import Sampler


def default_crop_size(cfg: CfgNode) -> int:
    """``S_default``: the crop the short-cycle factors (and the scale jitter) are relative to."""
    return cfg.MULTIGRID.DEFAULT_S if cfg.MULTIGRID.DEFAULT_S > 0 else cfg.DATA.TRAIN_CROP_SIZE


def base_shape_id(cfg: CfgNode) -> int:
    """The shape id of the phase's own crop (the last shape of a cycle)."""
    return len(cfg.MULTIGRID.SHORT_CYCLE_FACTORS)


def short_cycle_batch_sizes(cfg: CfgNode, batch_size: int) -> list[int]:
    """Batch size of each shape of the cycle, the phase's own ``batch_size`` last.

    PySlowFast's rule: ``batch_size * round((S / (factor * S_default)) ** 2)`` with ``S`` the
    phase's ``DATA.TRAIN_CROP_SIZE``; at least one clip per batch.
    """
    s, s_default = cfg.DATA.TRAIN_CROP_SIZE, default_crop_size(cfg)
    sizes = [
        batch_size * max(1, int(round((s / (factor * s_default)) ** 2)))
        for factor in cfg.MULTIGRID.SHORT_CYCLE_FACTORS
    ]
    return sizes + [batch_size]


def train_crop_and_scales(cfg: CfgNode, shape_id: int | None = None) -> tuple[int, int, int]:
    """(crop size, min scale, max scale) of a training clip asked for with ``shape_id``.

    ``shape_id`` < ``len(SHORT_CYCLE_FACTORS)`` selects a short-cycle crop
    ``int(round(factor * S_default))``; ``None`` or the last id selects ``DATA.TRAIN_CROP_SIZE``.
    As in PySlowFast, the lower end of the short-side jitter range ``DATA.TRAIN_JITTER_SCALES``
    is scaled by ``crop / S_default`` and the upper end is kept: a smaller crop covers the same
    part of the frame at a lower resolution (a coarser grid) or, from a larger scale, a zoomed-in
    part of it.
    """
    factors = cfg.MULTIGRID.SHORT_CYCLE_FACTORS
    s_default = default_crop_size(cfg)
    if shape_id is None or shape_id == len(factors):
        crop = cfg.DATA.TRAIN_CROP_SIZE
    elif 0 <= shape_id < len(factors):
        crop = int(round(factors[shape_id] * s_default))
    else:
        raise ValueError(
            f"short-cycle shape id {shape_id} is outside [0, {len(factors)}] "
            f"(MULTIGRID.SHORT_CYCLE_FACTORS has {len(factors)} entries)"
        )
    low, high = cfg.DATA.TRAIN_JITTER_SCALES
    return crop, int(round(low * crop / s_default)), int(high)


class ShortCycleBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of ``(index, shape_id)`` whose size and shape cycle through the short cycle.

    Wraps any index sampler (``RandomSampler``, ``DistributedSampler``, ...). The shape sequence
    depends only on the batch count, so every rank of a distributed run sees the same shapes at
    the same iteration while the wrapped sampler keeps their indices disjoint. ``len()`` is the
    exact number of batches one pass yields.
    """

    def __init__(self, sampler: Sampler[int], batch_size: int, drop_last: bool, cfg: CfgNode):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last must be a bool, got {drop_last!r}")
        self.sampler = sampler
        self.drop_last = drop_last
        self.batch_sizes = short_cycle_batch_sizes(cfg, batch_size)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        shape_id, batch = 0, []
        for index in self.sampler:
            batch.append((index, shape_id))
            if len(batch) == self.batch_sizes[shape_id]:
                yield batch
                shape_id, batch = (shape_id + 1) % len(self.batch_sizes), []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        remaining = len(self.sampler)
        cycle = sum(self.batch_sizes)
        batches = len(self.batch_sizes) * (remaining // cycle)
        remaining %= cycle
        for size in self.batch_sizes:
            if remaining < size:
                break
            remaining -= size
            batches += 1
        return batches + (1 if remaining and not self.drop_last else 0)

    def set_epoch(self, epoch: int) -> None:
        """Pass the epoch on to the wrapped sampler (``DistributedSampler`` reshuffles with it)."""
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)
