"""The multigrid schedule as data: phases of one mini-batch shape, and the whole schedule.

A :class:`Schedule` answers which :class:`Phase` an epoch is in, the learning rate at an epoch
and how much compute and how many iterations the schedule takes against its baseline. It is
immutable; :func:`slowfast.multigrid.build_schedule` makes one from a config. Phase boundaries are
whole epochs (PySlowFast's rounding) or exact fractional epochs (MULTIGRID.PHASE_UNIT
"iterations"); :class:`~slowfast.multigrid.plan.IterationPlan` places them at iterations for a
dataset size.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
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
            self.lr_policy, epoch, base_lr=self.base_lr, steps=self.steps, lrs=self.lrs,
            gamma=self.gamma, max_epoch=self.max_epoch, cosine_end_lr=self.cosine_end_lr,
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
                self.num_frames, crop, low, high, self.min_sampling_rate,
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
            "SOLVER.STEPS": _plain(self.solver.steps),
            "SOLVER.LRS": list(self.solver.lrs),
            "SOLVER.MAX_EPOCH": int(math.ceil(self.solver.max_epoch - 1e-9)),
        }
        if self.solver.lr_rescaled:
            updates["SOLVER.BASE_LR"] = self.solver.base_lr
            updates["SOLVER.COSINE_END_LR"] = self.solver.cosine_end_lr
            updates["SOLVER.WARMUP_START_LR"] = self.solver.warmup_start_lr
        return updates


def _plain(steps) -> list:
    """SOLVER.STEPS as written into a config: whole epochs stay ints, fractional ones floats."""
    return [int(v) if float(v).is_integer() else round(float(v), 6) for v in steps]


@dataclass(frozen=True)
class Schedule:
    """The whole multigrid schedule; build it with :func:`build_schedule`.

    ``mode`` is "long+short", "long" (long cycle only), "short" (short cycle only) or "off" (the
    baseline as one phase). ``unit`` is "epochs" (whole-epoch phases, PySlowFast's rounding) or
    "iterations" (exact fractional phases; ``warmup_share`` is then the share of all iterations
    the warm-up covers). ``entries`` is PySlowFast's schedule list
    ``(lr_stage, (B factor, T, S), end epoch)``, empty entries included; ``phases`` leaves out
    phases that rounding made empty. ``eval_epochs`` holds the 0-based epochs after which to
    evaluate and checkpoint (MULTIGRID.EVAL_FREQ times per phase, and after the last epoch); it
    is None without a long cycle, where TRAIN.EVAL_PERIOD and CHECKPOINT_PERIOD apply, as in
    PySlowFast.

    Compute accounting compares with the baseline: the same config without multigrid, B x T x S
    for ``baseline_max_epoch`` epochs. The compute of a model on a clip is taken proportional to
    its voxels T x S^2, so an epoch of a phase costs N x voxels_per_clip for N training videos,
    against N x T0 x S0^2 for a baseline epoch, and takes N / mean_batch_size iterations against
    N / B0.
    """

    mode: str
    unit: str
    single_long_cycle: bool
    lr_policy: str
    epoch_factor: float
    default_batch_size: int
    default_num_frames: int
    default_crop_size: int
    baseline_steps: tuple[int, ...]
    baseline_max_epoch: int
    phases: tuple[Phase, ...]
    entries: tuple[tuple[int, tuple[int, int, int], int], ...]
    eval_epochs: tuple[int, ...] | None
    warmup_share: float | None = None

    @property
    def long_cycle(self) -> bool:
        """Whether the shape follows a long cycle (mode "long+short" or "long")."""
        return self.mode in ("long+short", "long")

    @property
    def steps(self) -> list:
        """SOLVER.STEPS after :func:`init_cfg`."""
        return _plain(self.phases[0].solver.steps)

    @property
    def lrs(self) -> list[float]:
        """SOLVER.LRS after :func:`init_cfg`."""
        return list(self.phases[0].solver.lrs)

    @property
    def max_epoch(self) -> float:
        """The end of the last phase (fractional with iteration phases)."""
        return self.phases[-1].end

    @property
    def num_epochs(self) -> int:
        """SOLVER.MAX_EPOCH after :func:`init_cfg`: the epochs the trainer runs, the last one
        partial when the schedule ends inside an epoch."""
        return int(math.ceil(self.max_epoch - 1e-9))

    def phase_at(self, epoch: float) -> Phase:
        """The phase holding ``epoch``; the last phase for epochs at or past the end."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        for phase in self.phases:
            if epoch < phase.end:
                return phase
        return self.phases[-1]

    def lr_at(self, epoch: float) -> float:
        """The learning rate at fractional ``epoch`` (warm-up not included)."""
        return self.phase_at(epoch).solver.lr_at(epoch)

    def relative_compute(self, phase: Phase) -> float:
        """The phase's compute as a fraction of the whole baseline run's compute."""
        default_voxels = self.default_num_frames * self.default_crop_size**2
        return phase.num_epochs * phase.voxels_per_clip() / default_voxels / self.baseline_max_epoch

    def relative_iterations(self, phase: Phase) -> float:
        """The phase's iterations as a fraction of the whole baseline run's iterations."""
        per_epoch = self.default_batch_size / phase.mean_batch_size
        return phase.num_epochs * per_epoch / self.baseline_max_epoch

    @property
    def compute_ratio(self) -> float:
        """Multigrid compute over baseline compute (about 0.29 for the stepwise Kinetics run)."""
        return sum(self.relative_compute(p) for p in self.phases)

    @property
    def iteration_ratio(self) -> float:
        """Multigrid iterations over baseline iterations."""
        return sum(self.relative_iterations(p) for p in self.phases)

    @property
    def compute_saving(self) -> float:
        """How many times less compute than the baseline: the theoretical speed-up."""
        return 1.0 / self.compute_ratio

    @property
    def iteration_saving(self) -> float:
        """How many times fewer iterations than the baseline."""
        return 1.0 / self.iteration_ratio

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: the schedule, each phase with its accounting, and the totals."""
        phases = []
        for p in self.phases:
            row = asdict(p)
            row["relative_compute"] = self.relative_compute(p)
            row["relative_iterations"] = self.relative_iterations(p)
            phases.append(row)
        return {
            "mode": self.mode,
            "unit": self.unit,
            "warmup_share": self.warmup_share,
            "single_long_cycle": self.single_long_cycle,
            "lr_policy": self.lr_policy,
            "epoch_factor": self.epoch_factor,
            "default_shape": [
                self.default_batch_size,
                self.default_num_frames,
                self.default_crop_size,
            ],
            "baseline_steps": list(self.baseline_steps),
            "baseline_max_epoch": self.baseline_max_epoch,
            "steps": self.steps,
            "lrs": self.lrs,
            "max_epoch": self.max_epoch,
            "eval_epochs": None if self.eval_epochs is None else list(self.eval_epochs),
            "entries": [[s, list(shape), end] for s, shape, end in self.entries],
            "compute_ratio": self.compute_ratio,
            "iteration_ratio": self.iteration_ratio,
            "compute_saving": self.compute_saving,
            "iteration_saving": self.iteration_saving,
            "phases": phases,
        }

    def __str__(self) -> str:
        from slowfast.multigrid.report import format_report

        return format_report(self)
