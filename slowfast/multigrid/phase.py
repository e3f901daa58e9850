"""One phase of a multigrid schedule as data: its epochs, mini-batch shape, short-cycle shapes,
BN setting and solver values.

:class:`Phase` objects make up a :class:`~slowfast.multigrid.schedule.Schedule`; a phase's
:meth:`Phase.cfg_updates` are the config keys PySlowFast's ``update_long_cycle`` rewrites.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from slowfast.datasets.shape import ClipShape
from slowfast.utils.lr_policy import policy_lr


@dataclass(frozen=True)
class BNSetting:
    """BN.NORM_TYPE / NUM_SPLITS / NUM_SYNC_DEVICES for a phase (the unused count is 1)."""

    norm_type: str
    num_splits: int = 1
    num_sync_devices: int = 1


@dataclass(frozen=True)
class SolverSetting:
    """The SOLVER values in force during a phase.

    ``lr_rescaled`` marks the cosine variant, where the phase's LR scale is folded into BASE_LR,
    COSINE_END_LR and WARMUP_START_LR (the step variant carries it in LRS instead).
    """

    lr_policy: str
    steps: tuple[float, ...]
    lrs: tuple[float, ...]
    max_epoch: float
    base_lr: float
    cosine_end_lr: float
    warmup_start_lr: float
    gamma: float
    warmup_epochs: float
    cosine_after_warmup: bool
    lr_rescaled: bool = False

    def lr_with_warmup(self, epoch: float) -> float:
        """The learning rate at fractional ``epoch`` with the linear warm-up over
        ``warmup_epochs`` epochs from ``warmup_start_lr``, as PySlowFast's get_lr_at_epoch."""
        if epoch < self.warmup_epochs:
            end = self.lr_at(self.warmup_epochs)
            return self.warmup_start_lr + (end - self.warmup_start_lr) * epoch / self.warmup_epochs
        return self.lr_at(epoch)

    def lr_at(self, epoch: float) -> float:
        """The learning rate at fractional ``epoch``, without warm-up (lr_policy's formulas)."""
        return policy_lr(
            self.lr_policy,
            epoch,
            base_lr=self.base_lr,
            steps=self.steps,
            lrs=self.lrs,
            gamma=self.gamma,
            max_epoch=self.max_epoch,
            cosine_end_lr=self.cosine_end_lr,
            cosine_start=self.warmup_epochs if self.cosine_after_warmup else 0.0,
        )


@dataclass(frozen=True)
class Phase:
    """Epochs ``[start, end)`` trained at one long-cycle shape (whole or fractional epochs).

    ``kind`` is "long_cycle", "fine_tune" (the full-shape phase ending a stepwise schedule) or
    "constant" (no long cycle). ``lr_stage`` is the baseline LR stage at ``start``;
    ``cycle_stage`` indexes MULTIGRID.LONG_CYCLE_FACTORS (-1 without a long cycle).
    ``batch_multiplier`` is B over the default batch; by the linear scaling rule the LR is
    multiplied by it too (``solver`` holds the result). ``avg_batch_multiplier`` is the
    short-cycle average that sizes the phase. ``short_cycle`` lists the (global batch, crop) of
    each iteration of one short cycle, the phase's own shape last (only that shape without a
    short cycle), and ``jitter_scales`` the short-side jitter range of each. Clips sample every
    ``min_sampling_rate``-th frame, or with ``sampling_rate`` above it a rate drawn up to it.
    """

    index: int
    start: float
    end: float
    kind: str
    lr_stage: int
    cycle_stage: int
    batch_size: int
    num_frames: int
    crop_size: int
    batch_multiplier: int
    avg_batch_multiplier: float
    short_cycle: tuple[tuple[int, int], ...]
    jitter_scales: tuple[tuple[int, int], ...]
    min_sampling_rate: int
    sampling_rate: int
    bn: BNSetting
    solver: SolverSetting

    @property
    def num_epochs(self) -> float:
        return self.end - self.start

    def clip_shapes(self) -> tuple[ClipShape, ...]:
        """The :class:`ClipShape` of each short-cycle position, the phase's own shape last."""
        return tuple(
            ClipShape(
                self.num_frames,
                crop,
                low,
                high,
                self.min_sampling_rate,
                self.sampling_rate if self.sampling_rate > self.min_sampling_rate else 0,
            )
            for (_, crop), (low, high) in zip(self.short_cycle, self.jitter_scales)
        )

    @property
    def mean_batch_size(self) -> float:
        """Clips per iteration averaged over a short cycle (the global batch without one)."""
        return sum(b for b, _ in self.short_cycle) / len(self.short_cycle)

    def voxels_per_clip(self) -> float:
        """T x S^2 averaged over the clips of one short cycle (each clip weighs the same)."""
        clips = sum(b for b, _ in self.short_cycle)
        return sum(b * self.num_frames * s * s for b, s in self.short_cycle) / clips

    def cfg_updates(self) -> dict[str, Any]:
        """Dotted config key -> value for every key this phase sets."""
        updates: dict[str, Any] = {
            "TRAIN.BATCH_SIZE": self.batch_size,
            "DATA.NUM_FRAMES": self.num_frames,
            "DATA.TRAIN_CROP_SIZE": self.crop_size,
            "MULTIGRID.LONG_CYCLE_SAMPLING_RATE": self.sampling_rate,
            "BN.NORM_TYPE": self.bn.norm_type,
            "BN.NUM_SPLITS": self.bn.num_splits,
            "BN.NUM_SYNC_DEVICES": self.bn.num_sync_devices,
            "SOLVER.STEPS": plain_steps(self.solver.steps),
            "SOLVER.LRS": list(self.solver.lrs),
            "SOLVER.MAX_EPOCH": int(math.ceil(self.solver.max_epoch - 1e-9)),
        }
        if self.solver.lr_rescaled:
            updates["SOLVER.BASE_LR"] = self.solver.base_lr
            updates["SOLVER.COSINE_END_LR"] = self.solver.cosine_end_lr
            updates["SOLVER.WARMUP_START_LR"] = self.solver.warmup_start_lr
        return updates


def plain_steps(steps) -> list:
    """SOLVER.STEPS as written into a config: whole epochs stay ints, fractional ones floats."""
    return [int(v) if float(v).is_integer() else round(float(v), 6) for v in steps]
