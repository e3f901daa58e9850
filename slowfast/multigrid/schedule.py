"""The whole multigrid schedule as data, and its printed form.

A :class:`Schedule` answers which :class:`~slowfast.multigrid.phase.Phase` an epoch is in, the
learning rate at an epoch and how much compute and how many iterations the schedule takes against
its baseline. It is immutable; :func:`slowfast.multigrid.build_schedule` makes one from a config.
Phase boundaries are whole epochs (PySlowFast's rounding) or exact fractional epochs
(MULTIGRID.PHASE_UNIT "iterations"); :class:`~slowfast.multigrid.plan.IterationPlan` places them
at iterations for a dataset size. ``str(schedule)`` is the summary and phase table of
:func:`describe`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from slowfast.multigrid.phase import Phase, plain_steps


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
        return plain_steps(self.phases[0].solver.steps)

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
        return describe(self)


_KIND = {"long_cycle": "long cycle", "fine_tune": "fine-tune", "constant": "full shape"}


def _bn(phase: Phase) -> str:
    bn = phase.bn
    if bn.norm_type == "sub_batchnorm":
        return f"sub-BN /{bn.num_splits}"
    if bn.norm_type == "sync_batchnorm":
        return f"sync-BN x{bn.num_sync_devices}"
    return "BN"


def _lr(schedule: Schedule, phase: Phase) -> str:
    # The LR of the phase's last instant (phases can be shorter than an epoch).
    last_instant = max(phase.start, phase.end - 1e-6)
    first, last = schedule.lr_at(phase.start), schedule.lr_at(last_instant)
    return f"{first:.3g}" if first == last else f"{first:.3g} -> {last:.3g}"


def _epochs(value: float) -> str:
    """Whole epochs as integers, fractional ones with two decimals."""
    return f"{round(value)}" if abs(value - round(value)) < 1e-6 else f"{value:.2f}"


def format_table(
    schedule: Schedule,
    num_videos: int | None = None,
    iteration_ranges: Sequence[tuple[int, int]] | None = None,
) -> str:
    """One row per phase. Iterations per epoch are absolute for ``num_videos`` training videos,
    else relative to the baseline's; "iters" and "compute" are shares of the baseline run's;
    ``iteration_ranges`` (each phase's global ``[start, end)`` iterations, as an
    :class:`~slowfast.multigrid.plan.IterationPlan` places them) adds an "at iters" column."""
    width = 13 if schedule.unit == "iterations" else 9
    header = (
        f"{'#':>2}  {'epochs':>{width}}  {'kind':<10}  {'LR st':>5}  {'B x T x S':>15}  "
        f"{'LR':<19}  {'BN':<11}  {'short cycle B@S':<27}  {'it/epoch':>8}  "
        f"{'iters':>6}  {'compute':>7}"
    )
    if iteration_ranges is not None:
        header += f"  {'at iters':>17}"
    rows = [header, "-" * len(header)]
    for k, p in enumerate(schedule.phases):
        shape = f"{p.batch_size} x {p.num_frames} x {p.crop_size}"
        short = " ".join(f"{b}@{s}" for b, s in p.short_cycle) if len(p.short_cycle) > 1 else "-"
        if num_videos:
            per_epoch = f"{num_videos / p.mean_batch_size:.0f}"
        else:
            per_epoch = f"{schedule.default_batch_size / p.mean_batch_size:.3f}x"
        span = f"{_epochs(p.start)}-{_epochs(p.end)}"
        row = (
            f"{p.index:>2}  {span:>{width}}  {_KIND[p.kind]:<10}  {p.lr_stage:>5}  "
            f"{shape:>15}  {_lr(schedule, p):<19}  {_bn(p):<11}  {short:<27}  {per_epoch:>8}  "
            f"{schedule.relative_iterations(p):>6.1%}  {schedule.relative_compute(p):>7.1%}"
        )
        if iteration_ranges is not None:
            start, end = iteration_ranges[k]
            row += f"  {f'{start:,}-{end:,}':>17}"
        rows.append(row)
    return "\n".join(rows)


def format_summary(
    schedule: Schedule, num_videos: int | None = None, num_iters: int | None = None
) -> str:
    """The totals against the baseline, the rewritten solver and the evaluation epochs; with
    ``num_videos`` and ``num_iters`` (the schedule's iterations for that many training videos)
    the iteration counts too."""
    s = schedule
    cycles = {"long+short": "long + short cycles", "long": "long cycle only"}
    cycles.update({"short": "short cycle only", "off": "no multigrid (baseline)"})
    variant = " (single long cycle)" if s.single_long_cycle else ""
    unit = "iteration phases" if s.unit == "iterations" else "whole-epoch phases"
    lines = [
        f"Multigrid schedule: {cycles[s.mode]}{variant}, {unit}, LR policy {s.lr_policy}, "
        f"EPOCH_FACTOR {s.epoch_factor:g}; default shape {s.default_batch_size} x "
        f"{s.default_num_frames} x {s.default_crop_size} (global batch x frames x crop)",
        f"{_epochs(s.max_epoch)} epochs in {len(s.phases)} phase"
        f"{'s' if len(s.phases) != 1 else ''} "
        f"(baseline: {s.baseline_max_epoch} epochs, SOLVER.STEPS {list(s.baseline_steps)})",
    ]
    iters = f"{s.iteration_ratio:.3f}x the baseline's"
    if num_videos and num_iters is not None:
        theirs = s.baseline_max_epoch * num_videos // s.default_batch_size
        iters += f" ({num_iters:,} vs {theirs:,} for {num_videos:,} videos)"
    lines += [
        f"iterations: {iters}",
        f"compute: {s.compute_ratio:.3f}x the baseline's",
        f"theoretical saving: {s.compute_saving:.2f}x in compute, "
        f"{s.iteration_saving:.2f}x in iterations",
        f"SOLVER.STEPS {s.steps}",
        f"SOLVER.LRS {[float(f'{lr:.6g}') for lr in s.lrs]}",
        f"SOLVER.MAX_EPOCH {s.num_epochs}",
    ]
    if s.warmup_share is not None:
        lines.append(f"warm-up: the first {s.warmup_share:.1%} of the iterations")
    if s.eval_epochs is not None:
        epochs = [e + 1 for e in s.eval_epochs]
        lines.append(f"evaluate + checkpoint after epochs (1-based) {epochs}")
    return "\n".join(lines)


def describe(
    schedule: Schedule,
    num_videos: int | None = None,
    num_iters: int | None = None,
    iteration_ranges: Sequence[tuple[int, int]] | None = None,
) -> str:
    """The summary, then the table (``str(schedule)`` without the optional arguments)."""
    summary = format_summary(schedule, num_videos, num_iters)
    return summary + "\n\n" + format_table(schedule, num_videos, iteration_ranges)
