"""Building the multigrid schedule from a config (Wu et al., "A Multigrid Method for
Efficiently Training Video Models", CVPR 2020).

The numbers reproduce PySlowFast's ``slowfast/utils/multigrid.py`` (docs/MULTIGRID.md derives
them); the long-cycle-only, single-long-cycle and cosine variants extend it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError
from slowfast.multigrid.phase import BNSetting, Phase, Schedule, SolverSetting
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

LONG_CYCLE_POLICIES = ("steps_with_relative_lrs", "cosine")
# MULTIGRID.PHASE_UNIT: "iterations" keeps each phase's exact (fractional) share of training,
# "epochs" rounds phase boundaries to whole epochs as PySlowFast does (phases can come out empty).
PHASE_UNITS = ("iterations", "epochs")
# MULTIGRID.SHORT_CYCLE_RULE: "pyslowfast" takes the short-cycle crops relative to the default
# crop (inside the coarse long-cycle stages the batch factors come out 2x, 1x); "paper" takes them
# relative to the stage's own crop (4x, 2x, 1x at every stage).
SHORT_CYCLE_RULES = ("pyslowfast", "paper")


@dataclass(frozen=True)
class _Baseline:
    """The numbers of the run without multigrid, whatever rewriting the cfg has been through."""

    batch_size: int
    num_frames: int
    crop_size: int
    steps: tuple[int, ...]
    max_epoch: int
    base_lr: float
    cosine_end_lr: float
    warmup_start_lr: float


@dataclass(frozen=True)
class _Stage:
    """One long-cycle shape: frames, crop, its batch multiplier and short-cycle average."""

    index: int
    num_frames: int
    crop_size: int
    multiplier: int
    avg_multiplier: float


# (LR stage, long-cycle stage, unstretched epochs) per schedule entry.
Layout = list[tuple[int, _Stage, float]]


def pyslowfast_rules(cfg: CfgNode) -> CfgNode:
    """A copy of ``cfg`` whose schedule follows PySlowFast to the letter: whole-epoch phases,
    warm-up in epochs, the short cycle kept in fine-tuning, short-cycle crops relative to the
    default crop."""
    cfg = cfg.clone()
    was_frozen = cfg.is_frozen()
    cfg.defrost()
    cfg.MULTIGRID.PHASE_UNIT = "epochs"
    cfg.MULTIGRID.FINE_TUNE_SHORT_CYCLE = True
    cfg.MULTIGRID.SHORT_CYCLE_RULE = "pyslowfast"
    cfg.MULTIGRID.WARMUP_UNIT = "epochs"
    if was_frozen:
        cfg.freeze()
    return cfg


def _need(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {msg}")


def is_initialised(cfg: CfgNode) -> bool:
    """Whether init_cfg (or PySlowFast's init_multigrid) has rewritten ``cfg``."""
    return cfg.MULTIGRID.DEFAULT_B > 0


def _baseline(cfg: CfgNode) -> _Baseline:
    """Read the baseline from an original cfg, or from one :func:`init_cfg` (and possibly
    :func:`apply_phase`) rewrote: those keep it in MULTIGRID.DEFAULT_*. A cosine phase scales the
    LR keys by its batch multiplier, TRAIN.BATCH_SIZE / DEFAULT_B, which is divided out here.
    """
    mg, solver = cfg.MULTIGRID, cfg.SOLVER
    if not is_initialised(cfg):
        return _Baseline(
            cfg.TRAIN.BATCH_SIZE,
            cfg.DATA.NUM_FRAMES,
            cfg.DATA.TRAIN_CROP_SIZE,
            tuple(solver.STEPS),
            solver.MAX_EPOCH,
            solver.BASE_LR,
            solver.COSINE_END_LR,
            solver.WARMUP_START_LR,
        )
    _need(
        mg.DEFAULT_MAX_EPOCH > 0,
        "MULTIGRID.DEFAULT_MAX_EPOCH",
        "MULTIGRID.DEFAULT_B is set but the baseline solver is unknown (a config rewritten by "
        "PySlowFast's init_multigrid?); build the schedule from the original config",
    )
    scale = 1.0
    if mg.LONG_CYCLE and solver.LR_POLICY == "cosine":
        scale = cfg.TRAIN.BATCH_SIZE / mg.DEFAULT_B
    return _Baseline(
        mg.DEFAULT_B,
        mg.DEFAULT_T,
        mg.DEFAULT_S,
        tuple(mg.DEFAULT_STEPS),
        mg.DEFAULT_MAX_EPOCH,
        solver.BASE_LR / scale,
        solver.COSINE_END_LR / scale,
        solver.WARMUP_START_LR / scale,
    )


def _check(cfg: CfgNode, base: _Baseline) -> None:
    mg = cfg.MULTIGRID
    for key, value in (
        ("TRAIN.BATCH_SIZE", base.batch_size),
        ("DATA.NUM_FRAMES", base.num_frames),
        ("DATA.TRAIN_CROP_SIZE", base.crop_size),
        ("SOLVER.MAX_EPOCH", base.max_epoch),
        ("MULTIGRID.BN_BASE_SIZE", mg.BN_BASE_SIZE),
        ("MULTIGRID.EVAL_FREQ", mg.EVAL_FREQ),
    ):
        _need(value > 0, key, f"must be positive, got {value}")
    _need(mg.EPOCH_FACTOR > 0, "MULTIGRID.EPOCH_FACTOR", f"must be positive, got {mg.EPOCH_FACTOR}")
    _need(
        mg.PHASE_UNIT in PHASE_UNITS,
        "MULTIGRID.PHASE_UNIT",
        f"must be one of {PHASE_UNITS}, got {mg.PHASE_UNIT!r}",
    )
    _need(
        mg.WARMUP_UNIT in PHASE_UNITS,
        "MULTIGRID.WARMUP_UNIT",
        f"must be one of {PHASE_UNITS}, got {mg.WARMUP_UNIT!r}",
    )
    _need(
        mg.SHORT_CYCLE_RULE in SHORT_CYCLE_RULES,
        "MULTIGRID.SHORT_CYCLE_RULE",
        f"must be one of {SHORT_CYCLE_RULES}, got {mg.SHORT_CYCLE_RULE!r}",
    )
    _need(
        not mg.SINGLE_LONG_CYCLE or mg.LONG_CYCLE,
        "MULTIGRID.SINGLE_LONG_CYCLE",
        "needs MULTIGRID.LONG_CYCLE True",
    )
    if mg.SHORT_CYCLE:
        factors = list(mg.SHORT_CYCLE_FACTORS)
        _need(
            bool(factors) and all(0 < f <= 1 for f in factors),
            "MULTIGRID.SHORT_CYCLE_FACTORS",
            f"must be crop factors in (0, 1], got {factors}",
        )
    if not mg.LONG_CYCLE:
        return
    _need(
        cfg.SOLVER.LR_POLICY in LONG_CYCLE_POLICIES,
        "SOLVER.LR_POLICY",
        f"the long cycle needs one of {LONG_CYCLE_POLICIES}, got {cfg.SOLVER.LR_POLICY!r}",
    )
    factors = [tuple(f) for f in mg.LONG_CYCLE_FACTORS]
    _need(
        bool(factors) and all(len(f) == 2 and f[0] > 0 and f[1] > 0 for f in factors),
        "MULTIGRID.LONG_CYCLE_FACTORS",
        f"must be a non-empty list of positive (frames, crop) factors, got {factors}",
    )
    if cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH:
        alpha = cfg.SLOWFAST.ALPHA
        for t_factor, _ in factors:
            frames = int(round(base.num_frames * t_factor))
            _need(
                frames >= alpha and frames % alpha == 0,
                "MULTIGRID.LONG_CYCLE_FACTORS",
                f"a long-cycle stage with {frames} frames (DATA.NUM_FRAMES {base.num_frames} x "
                f"{t_factor}) leaves the Slow pathway no whole frame at SLOWFAST.ALPHA {alpha}; "
                f"use DATA.NUM_FRAMES divisible by {alpha} x {round(1 / t_factor)}",
            )
    steps = list(base.steps)
    needs_steps = not (mg.SINGLE_LONG_CYCLE and cfg.SOLVER.LR_POLICY == "cosine")
    if not needs_steps:
        return
    min_len = 1 if mg.SINGLE_LONG_CYCLE else 2
    hint = ""
    if cfg.SOLVER.LR_POLICY == "cosine":
        hint = " (with the cosine policy they mark the long cycles, e.g. [0, 77, 126, 161])"
    _need(
        len(steps) >= min_len and steps[0] == 0,
        "SOLVER.STEPS",
        f"the long cycle needs at least {min_len} entries starting at 0{hint}, got {steps}",
    )
    _need(
        all(b > a for a, b in zip(steps, steps[1:])) and steps[-1] < base.max_epoch,
        "SOLVER.STEPS",
        f"must increase and stay below SOLVER.MAX_EPOCH ({base.max_epoch}), got {steps}",
    )
    if cfg.SOLVER.LR_POLICY == "steps_with_relative_lrs" and not is_initialised(cfg):
        gamma, lrs = cfg.SOLVER.GAMMA, list(cfg.SOLVER.LRS)
        if any(not math.isclose(lr, gamma**i) for i, lr in enumerate(lrs[: len(steps)])):
            logger.warning(
                "multigrid takes the relative LR of baseline stage i as SOLVER.GAMMA**i "
                "(GAMMA=%s), as PySlowFast does; SOLVER.LRS %s differs and is not used",
                gamma,
                lrs,
            )


def _short_cycle_crops(cfg: CfgNode, base: _Baseline, crop: int) -> list[float]:
    """The short-cycle crops at a long-cycle stage of crop ``crop``: SHORT_CYCLE_FACTORS times
    the default crop (PySlowFast) or times the stage's own crop (the paper's rule)."""
    ref = crop if cfg.MULTIGRID.SHORT_CYCLE_RULE == "paper" else base.crop_size
    return [ref * f for f in cfg.MULTIGRID.SHORT_CYCLE_FACTORS]


def _stages(cfg: CfgNode, base: _Baseline) -> list[_Stage]:
    """The long-cycle shapes. The batch multiplier of (T, S) keeps B x T x S^2 at the default's;
    with the short cycle a stage's average multiplier also counts the short-cycle crops."""
    default_voxels = float(base.num_frames * base.crop_size**2)
    stages = []
    for k, (t_factor, s_factor) in enumerate(cfg.MULTIGRID.LONG_CYCLE_FACTORS):
        frames = int(round(base.num_frames * t_factor))
        crop = int(round(base.crop_size * s_factor))
        _need(
            frames >= 1 and crop >= 1,
            "MULTIGRID.LONG_CYCLE_FACTORS",
            f"stage {k} gives {frames} frames x {crop} crop",
        )
        crops = _short_cycle_crops(cfg, base, crop) if cfg.MULTIGRID.SHORT_CYCLE else []
        mults = [int(round(default_voxels / (frames * c * c))) for c in crops + [crop]]
        _need(
            min(mults) >= 1,
            "MULTIGRID.LONG_CYCLE_FACTORS",
            f"stage {k} ({frames} frames x {crop} crop) is larger than the default shape",
        )
        stages.append(_Stage(k, frames, crop, mults[-1], sum(mults) / len(mults)))
    return stages


def _stretch(epochs: Sequence[float], total: float, whole: bool) -> list[float]:
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


def _stepwise_layout(stages: list[_Stage], base: _Baseline, fine_tune_short: bool) -> Layout:
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
        last = _Stage(last.index, last.num_frames, last.crop_size, last.multiplier,
                      float(last.multiplier))
    fine_tune = (base.max_epoch - steps[-1]) / iter_saving * last.avg_multiplier
    layout.append((len(steps) - 1, last, fine_tune))
    return layout


def _drop_empty_steps(
    steps: Sequence[float], lrs: Sequence[float], max_epoch: float
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Remove the LR steps whose interval is empty (rounding can make two steps coincide): the
    LR as a function of the epoch stays the same, and SOLVER.STEPS strictly increases."""
    bounds = list(steps[1:]) + [max_epoch]
    keep = [i for i in range(len(steps)) if steps[i] < bounds[i]] or [len(steps) - 1]
    tail = tuple(lrs[len(steps) :])
    return tuple(steps[i] for i in keep), tuple(lrs[i] for i in keep) + tail


def _bn_setting(cfg: CfgNode, batch_size: int) -> BNSetting:
    """Keep BN statistics over MULTIGRID.BN_BASE_SIZE clips: split larger per-process batches
    (sub-BN), synchronise smaller ones over several processes (sync-BN)."""
    processes = max(cfg.NUM_GPUS, 1) * cfg.NUM_SHARDS
    factor = float(batch_size / processes) / cfg.MULTIGRID.BN_BASE_SIZE
    if factor < 1:
        # Synchronise over at most the processes there are, in groups that divide them; a
        # single process has nobody to synchronise with and keeps plain BN.
        sync = min(int(1.0 / factor), processes)
        while processes % sync:
            sync -= 1
        if sync == 1:
            return BNSetting("batchnorm")
        return BNSetting("sync_batchnorm", num_sync_devices=sync)
    if factor > 1:
        return BNSetting("sub_batchnorm", num_splits=int(factor))
    return BNSetting("batchnorm")


def _short_cycle(
    cfg: CfgNode, base: _Baseline, batch: int, crop: int, enabled: bool = True
) -> tuple[tuple[int, int], ...]:
    """(global batch, crop) of each iteration of a short cycle at a long-cycle shape: the batch
    grows by the squared crop ratio, rounded, as PySlowFast's short-cycle batch sampler does."""
    if not (cfg.MULTIGRID.SHORT_CYCLE and enabled):
        return ((batch, crop),)
    shapes = [
        (batch * max(1, int(round((crop / c) ** 2))), int(round(c)))
        for c in _short_cycle_crops(cfg, base, crop)
    ]
    return tuple(shapes) + ((batch, crop),)


def _jitter_scales(
    cfg: CfgNode, base: _Baseline, short_cycle: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int], ...]:
    """The short-side jitter range of each short-cycle shape, as PySlowFast's datasets set it:
    the lower end of DATA.TRAIN_JITTER_SCALES scaled by crop / default crop, the upper end kept
    (a smaller crop covers the same part of the frame on a coarser grid, or zooms in)."""
    low, high = cfg.DATA.TRAIN_JITTER_SCALES
    return tuple((int(round(low * crop / base.crop_size)), int(high)) for _, crop in short_cycle)


def _eval_epochs(phases: Sequence[Phase], eval_freq: int) -> tuple[int, ...]:
    """EVAL_FREQ evenly spaced epochs per phase counted back from its last one."""
    epochs = set()
    for p in phases:
        period = max(p.num_epochs // eval_freq + 1, 1)
        epochs.update(e for e in range(p.start, p.end) if (p.end - 1 - e) % period == 0)
    epochs.add(phases[-1].end - 1)
    return tuple(sorted(epochs))


def _eval_epochs_exact(phases: Sequence[Phase], eval_freq: int) -> tuple[int, ...]:
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


def _solver(
    cfg: CfgNode, base: _Baseline, steps, lrs, max_epoch: float, scale: float | None = None
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


def _constant_schedule(cfg: CfgNode, base: _Baseline, mode: str, whole: bool) -> Schedule:
    """Short cycle only (steps and epochs stretched by EPOCH_FACTOR, truncated to whole epochs
    as PySlowFast does, or exact), or no multigrid at all (the baseline as a one-phase
    schedule)."""
    mg = cfg.MULTIGRID
    factor = mg.EPOCH_FACTOR if mode == "short" else 1.0
    steps, lrs = list(cfg.SOLVER.STEPS), list(cfg.SOLVER.LRS)
    cast = int if whole else float
    max_epoch = cast(base.max_epoch * factor)
    _need(max_epoch > 0, "MULTIGRID.EPOCH_FACTOR", f"leaves {max_epoch} epochs")
    if not is_initialised(cfg):  # else init_cfg already stretched the solver
        steps = [cast(s * factor) for s in base.steps]
        if steps:
            steps, lrs = _drop_empty_steps(steps, lrs, max_epoch)
    short = _short_cycle(cfg, base, base.batch_size, base.crop_size, mode == "short")
    voxels = float(base.num_frames * base.crop_size**2)
    mults = [int(round(voxels / (base.num_frames * c * c))) for _, c in short]
    phase = Phase(
        index=0,
        start=0,
        end=max_epoch,
        kind="constant",
        lr_stage=0,
        cycle_stage=-1,
        batch_size=base.batch_size,
        num_frames=base.num_frames,
        crop_size=base.crop_size,
        batch_multiplier=1,
        avg_batch_multiplier=sum(mults) / len(mults),
        short_cycle=short,
        jitter_scales=_jitter_scales(cfg, base, short),
        min_sampling_rate=cfg.DATA.SAMPLING_RATE,
        sampling_rate=mg.LONG_CYCLE_SAMPLING_RATE,
        bn=BNSetting(cfg.BN.NORM_TYPE, cfg.BN.NUM_SPLITS, cfg.BN.NUM_SYNC_DEVICES),
        solver=_solver(cfg, base, steps, lrs, max_epoch),
    )
    return Schedule(
        mode=mode,
        unit="epochs" if whole else "iterations",
        single_long_cycle=False,
        lr_policy=cfg.SOLVER.LR_POLICY,
        epoch_factor=factor,
        default_batch_size=base.batch_size,
        default_num_frames=base.num_frames,
        default_crop_size=base.crop_size,
        baseline_steps=base.steps,
        baseline_max_epoch=base.max_epoch,
        phases=(phase,),
        entries=(),
        eval_epochs=None,
        warmup_share=_warmup_share(cfg, base, whole),
    )


def _warmup_share(cfg: CfgNode, base: _Baseline, whole: bool) -> float | None:
    """With iteration phases and MULTIGRID.WARMUP_UNIT "iterations", the warm-up covers the
    share of training iterations that SOLVER.WARMUP_EPOCHS is of the baseline's epochs; else
    (None) it lasts SOLVER.WARMUP_EPOCHS epochs of the schedule, as in PySlowFast."""
    if whole or cfg.MULTIGRID.WARMUP_UNIT == "epochs":
        return None
    return min(max(cfg.SOLVER.WARMUP_EPOCHS, 0.0) / base.max_epoch, 1.0)


def _stepwise_solver(layout: Layout, ends: list[float], gamma: float) -> tuple[list, list]:
    """PySlowFast's SOLVER.STEPS / LRS: one step per phase, relative LR GAMMA**(LR stage) times
    the batch multiplier (linear scaling), and the fine-tuning phase cut in half, its first
    half keeping the LR of the phase before it."""
    steps = [0] + ends
    mid = (steps[-2] + steps[-1]) / 2
    steps[-1] = int(mid) if isinstance(steps[-1], int) else mid
    lrs = [gamma**lr_stage * st.multiplier for lr_stage, st, _ in layout]
    return steps, lrs[:-1] + [lrs[-2], lrs[-1]]


def _single_cycle_solver(
    layout: Layout, ends: list[float], lr_steps: list[float], gamma: float
) -> tuple[list, list]:
    """One long cycle: a step at every phase start and every stretched baseline LR step, the
    relative LR being GAMMA**(baseline LR stage) times the multiplier of the phase."""
    starts = [0] + ends[:-1]
    steps = sorted({s for s in lr_steps + starts if s < ends[-1]})
    lrs = [
        gamma ** _index_at(lr_steps, s) * layout[_index_at(starts, s)][1].multiplier
        for s in steps
    ]
    return steps, lrs


def _index_at(bounds: Sequence[float], epoch: float) -> int:
    """Index of the last of the increasing ``bounds`` at or before ``epoch`` (0 if none)."""
    return max([i for i, b in enumerate(bounds) if b <= epoch], default=0)


def build_schedule(cfg: CfgNode, unit: str | None = None) -> Schedule:
    """The multigrid schedule of ``cfg``.

    ``cfg`` may be the original config or one rewritten by :func:`init_cfg` or
    :func:`apply_phase` (the baseline is then read from MULTIGRID.DEFAULT_*). ``unit``
    overrides MULTIGRID.PHASE_UNIT: "epochs" gives PySlowFast's whole-epoch phases (empty ones
    dropped), "iterations" the exact fractional ones, which an
    :class:`~slowfast.multigrid.plan.IterationPlan` turns into iterations. Raises
    :class:`ConfigError` for settings the schedule cannot honour.
    """
    mg = cfg.MULTIGRID
    base = _baseline(cfg)
    _check(cfg, base)
    unit = unit or mg.PHASE_UNIT
    _need(unit in PHASE_UNITS, "MULTIGRID.PHASE_UNIT", f"must be one of {PHASE_UNITS}, got {unit!r}")
    whole = unit == "epochs"
    if not mg.LONG_CYCLE:
        return _constant_schedule(cfg, base, "short" if mg.SHORT_CYCLE else "off", whole)

    stages = _stages(cfg, base)
    single = bool(mg.SINGLE_LONG_CYCLE)
    if single:
        total_avg = sum(st.avg_multiplier for st in stages)
        layout = [(0, st, base.max_epoch * st.avg_multiplier / total_avg) for st in stages]
    else:
        layout = _stepwise_layout(stages, base, bool(mg.FINE_TUNE_SHORT_CYCLE))
    ends = _stretch([e for _, _, e in layout], base.max_epoch * mg.EPOCH_FACTOR, whole)
    max_epoch = ends[-1]
    _need(max_epoch > 0, "MULTIGRID.EPOCH_FACTOR", f"leaves {max_epoch} epochs")
    starts = [0] + ends[:-1]
    # A single long cycle keeps the baseline's LR steps at their stretched epochs; they also
    # give each phase its LR stage.
    lr_steps = [s * max_epoch / base.max_epoch for s in base.steps]
    if whole:
        lr_steps = [int(round(s)) for s in lr_steps]
    if single:
        layout = [(_index_at(lr_steps, b), st, e) for b, (_, st, e) in zip(starts, layout)]

    cosine = cfg.SOLVER.LR_POLICY == "cosine"
    if cosine:
        steps, lrs = tuple(base.steps), tuple(cfg.SOLVER.LRS)
    else:
        if single:
            raw = _single_cycle_solver(layout, ends, lr_steps, cfg.SOLVER.GAMMA)
        else:
            raw = _stepwise_solver(layout, ends, cfg.SOLVER.GAMMA)
        steps, lrs = _drop_empty_steps(*raw, max_epoch)

    entries, phases = [], []
    for i, ((lr_stage, st, _), start, end) in enumerate(zip(layout, starts, ends)):
        entries.append((lr_stage, (st.multiplier, st.num_frames, st.crop_size), end))
        if end <= start:
            continue
        batch = st.multiplier * base.batch_size
        fine_tune = not single and i == len(layout) - 1
        short = _short_cycle(
            cfg, base, batch, st.crop_size, not fine_tune or bool(mg.FINE_TUNE_SHORT_CYCLE)
        )
        phases.append(
            Phase(
                index=len(phases),
                start=start,
                end=end,
                kind="fine_tune" if fine_tune else "long_cycle",
                lr_stage=lr_stage,
                cycle_stage=st.index,
                batch_size=batch,
                num_frames=st.num_frames,
                crop_size=st.crop_size,
                batch_multiplier=st.multiplier,
                avg_batch_multiplier=st.avg_multiplier,
                short_cycle=short,
                jitter_scales=_jitter_scales(cfg, base, short),
                min_sampling_rate=cfg.DATA.SAMPLING_RATE,
                sampling_rate=cfg.DATA.SAMPLING_RATE * (base.num_frames // st.num_frames),
                bn=_bn_setting(cfg, batch),
                solver=_solver(
                    cfg, base, steps, lrs, max_epoch, float(st.multiplier) if cosine else None
                ),
            )
        )
    eval_rule = _eval_epochs if whole else _eval_epochs_exact
    return Schedule(
        mode="long+short" if mg.SHORT_CYCLE else "long",
        unit=unit,
        single_long_cycle=single,
        lr_policy=cfg.SOLVER.LR_POLICY,
        epoch_factor=mg.EPOCH_FACTOR,
        default_batch_size=base.batch_size,
        default_num_frames=base.num_frames,
        default_crop_size=base.crop_size,
        baseline_steps=base.steps,
        baseline_max_epoch=base.max_epoch,
        phases=tuple(phases),
        entries=tuple(entries),
        eval_epochs=eval_rule(phases, mg.EVAL_FREQ),
        warmup_share=_warmup_share(cfg, base, whole),
    )
