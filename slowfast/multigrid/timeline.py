"""When things happen in a schedule: phase lengths, the LR steps and relative LRs, the epochs
after which to evaluate, and the warm-up share."""

from __future__ import annotations

import math
from collections.abc import Sequence

from fvcore.common.config import CfgNode

from slowfast.multigrid.cfg_input import Baseline
from slowfast.multigrid.phase import Phase, SolverSetting
from slowfast.multigrid.stages import Stage

# (LR stage, long-cycle stage, unstretched epochs) per schedule entry.
Layout = list[tuple[int, Stage, float]]


def stretch(epochs: Sequence[float], total: float, whole: bool) -> list[float]:
    """Scale ``epochs`` to sum to ``total`` and return the cumulative end epochs, rounded to
    whole epochs when ``whole`` (PySlowFast), else exact."""
    factor = total / sum(epochs)
    ends, acc = [], 0.0
    for e in epochs:
        acc += e * factor
        ends.append(int(round(acc)) if whole else acc)
    if not whole:
        ends[-1] = float(total)  # exactly, not the running sum's rounding error
    return ends


def stepwise_layout(stages: list[Stage], base: Baseline, fine_tune_short: bool) -> Layout:
    """Every baseline LR stage but the last holds one long cycle, each shape's epochs in
    proportion to its average multiplier; the last LR stage becomes a full-shape fine-tuning
    phase whose length gives it the iteration saving of the rest. Unstretched epochs.

    Without ``fine_tune_short`` the fine-tuning phase runs without the short cycle: it keeps
    its iterations, each at the full shape."""
    steps = base.steps
    total_avg = sum(st.avg_multiplier for st in stages)
    layout, iters = [], 0.0
    for lr_stage in range(len(steps) - 1):
        stage_epochs = steps[lr_stage + 1] - steps[lr_stage]
        for st in stages:
            epochs = stage_epochs * st.avg_multiplier / total_avg
            iters += epochs / st.avg_multiplier
            layout.append((lr_stage, st, epochs))
    iter_saving = steps[-1] / iters
    last = stages[-1]
    if not fine_tune_short:
        last = Stage(
            last.index, last.num_frames, last.crop_size, last.multiplier, float(last.multiplier)
        )
    fine_tune = (base.max_epoch - steps[-1]) / iter_saving * last.avg_multiplier
    layout.append((len(steps) - 1, last, fine_tune))
    return layout


def drop_empty_steps(
    steps: Sequence[float], lrs: Sequence[float], max_epoch: float
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Remove the LR steps whose interval is empty (rounding can make two steps coincide): the
    LR as a function of the epoch stays the same, and SOLVER.STEPS strictly increases."""
    bounds = list(steps[1:]) + [max_epoch]
    keep = [i for i in range(len(steps)) if steps[i] < bounds[i]] or [len(steps) - 1]
    tail = tuple(lrs[len(steps) :])
    return tuple(steps[i] for i in keep), tuple(lrs[i] for i in keep) + tail


def eval_epochs_whole(phases: Sequence[Phase], eval_freq: int) -> tuple[int, ...]:
    """EVAL_FREQ evenly spaced epochs per phase counted back from its last one."""
    epochs = set()
    for p in phases:
        period = max(p.num_epochs // eval_freq + 1, 1)
        epochs.update(e for e in range(p.start, p.end) if (p.end - 1 - e) % period == 0)
    epochs.add(phases[-1].end - 1)
    return tuple(sorted(epochs))


def eval_epochs_exact(phases: Sequence[Phase], eval_freq: int) -> tuple[int, ...]:
    """For fractional phases: the epochs (0-based) that end at or just after EVAL_FREQ evenly
    spaced points of each phase, the phase's end among them, and the last epoch."""
    epochs = set()
    for p in phases:
        for j in range(eval_freq):
            point = p.end - j * p.num_epochs / eval_freq
            if point > p.start + 1e-9:
                epochs.add(max(int(math.ceil(point - 1e-9)) - 1, 0))
    epochs.add(int(math.ceil(phases[-1].end - 1e-9)) - 1)
    return tuple(sorted(epochs))


def solver_setting(
    cfg: CfgNode, base: Baseline, steps, lrs, max_epoch: float, scale: float | None = None
) -> SolverSetting:
    """The SOLVER values of a phase; ``scale`` (cosine with a long cycle) multiplies the LRs."""
    s = cfg.SOLVER
    factor = 1.0 if scale is None else scale
    return SolverSetting(
        lr_policy=s.LR_POLICY,
        steps=tuple(steps),
        lrs=tuple(lrs),
        max_epoch=max_epoch,
        base_lr=base.base_lr * factor,
        cosine_end_lr=base.cosine_end_lr * factor,
        warmup_start_lr=base.warmup_start_lr * factor,
        gamma=s.GAMMA,
        warmup_epochs=s.WARMUP_EPOCHS,
        cosine_after_warmup=s.COSINE_AFTER_WARMUP,
        lr_rescaled=scale is not None,
    )


def warmup_share(cfg: CfgNode, base: Baseline, whole: bool) -> float | None:
    """With iteration phases and MULTIGRID.WARMUP_UNIT "iterations", the warm-up covers the
    share of training iterations that SOLVER.WARMUP_EPOCHS is of the baseline's epochs; else
    (None) it lasts SOLVER.WARMUP_EPOCHS epochs of the schedule, as in PySlowFast."""
    if whole or cfg.MULTIGRID.WARMUP_UNIT == "epochs":
        return None
    return min(max(cfg.SOLVER.WARMUP_EPOCHS, 0.0) / base.max_epoch, 1.0)


def stepwise_solver(layout: Layout, ends: list[float], gamma: float) -> tuple[list, list]:
    """PySlowFast's SOLVER.STEPS / LRS: one step per phase, relative LR GAMMA**(LR stage) times
    the batch multiplier (linear scaling), and the fine-tuning phase cut in half, its first
    half keeping the LR of the phase before it."""
    steps = [0] + ends
    mid = (steps[-2] + steps[-1]) / 2
    steps[-1] = int(mid) if isinstance(steps[-1], int) else mid
    lrs = [gamma**lr_stage * st.multiplier for lr_stage, st, _ in layout]
    return steps, lrs[:-1] + [lrs[-2], lrs[-1]]


def single_cycle_solver(
    layout: Layout, ends: list[float], lr_steps: list[float], gamma: float
) -> tuple[list, list]:
    """One long cycle: a step at every phase start and every stretched baseline LR step, the
    relative LR being GAMMA**(baseline LR stage) times the multiplier of the phase."""
    starts = [0] + ends[:-1]
    steps = sorted({s for s in lr_steps + starts if s < ends[-1]})
    lrs = [
        gamma ** index_at(lr_steps, s) * layout[index_at(starts, s)][1].multiplier for s in steps
    ]
    return steps, lrs


def index_at(bounds: Sequence[float], epoch: float) -> int:
    """Index of the last of the increasing ``bounds`` at or before ``epoch`` (0 if none)."""
    return max([i for i, b in enumerate(bounds) if b <= epoch], default=0)
