"""Building the multigrid schedule from a config (Wu et al., "A Multigrid Method for
Efficiently Training Video Models", CVPR 2020).

The numbers reproduce PySlowFast's ``slowfast/utils/multigrid.py`` (docs/MULTIGRID.md derives
them); the long-cycle-only, single-long-cycle and cosine variants extend it.
"""

from __future__ import annotations

from fvcore.common.config import CfgNode

from slowfast.multigrid.cfg_input import (
    PHASE_UNITS,
    Baseline,
    check_cfg,
    is_initialised,
    need,
    read_baseline,
)
from slowfast.multigrid.phase import BNSetting, Phase
from slowfast.multigrid.schedule import Schedule
from slowfast.multigrid.stages import (
    bn_setting,
    jitter_scales,
    long_cycle_stages,
    short_cycle_shapes,
)
from slowfast.multigrid.timeline import (
    drop_empty_steps,
    eval_epochs_exact,
    eval_epochs_whole,
    index_at,
    single_cycle_solver,
    solver_setting,
    stepwise_layout,
    stepwise_solver,
    stretch,
    warmup_share,
)


def _constant_schedule(cfg: CfgNode, base: Baseline, mode: str, whole: bool) -> Schedule:
    """Short cycle only (steps and epochs stretched by EPOCH_FACTOR, truncated to whole epochs
    as PySlowFast does, or exact), or no multigrid at all (the baseline as a one-phase
    schedule)."""
    mg = cfg.MULTIGRID
    factor = mg.EPOCH_FACTOR if mode == "short" else 1.0
    steps, lrs = list(cfg.SOLVER.STEPS), list(cfg.SOLVER.LRS)
    cast = int if whole else float
    max_epoch = cast(base.max_epoch * factor)
    need(max_epoch > 0, "MULTIGRID.EPOCH_FACTOR", f"leaves {max_epoch} epochs")
    if not is_initialised(cfg):  # else init_cfg already stretched the solver
        steps = [cast(s * factor) for s in base.steps]
        if steps:
            steps, lrs = drop_empty_steps(steps, lrs, max_epoch)
    short = short_cycle_shapes(cfg, base, base.batch_size, base.crop_size, mode == "short")
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
        jitter_scales=jitter_scales(cfg, base, short),
        min_sampling_rate=cfg.DATA.SAMPLING_RATE,
        sampling_rate=mg.LONG_CYCLE_SAMPLING_RATE,
        bn=BNSetting(cfg.BN.NORM_TYPE, cfg.BN.NUM_SPLITS, cfg.BN.NUM_SYNC_DEVICES),
        solver=solver_setting(cfg, base, steps, lrs, max_epoch),
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
        warmup_share=warmup_share(cfg, base, whole),
    )


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
    base = read_baseline(cfg)
    check_cfg(cfg, base)
    unit = unit or mg.PHASE_UNIT
    need(unit in PHASE_UNITS, "MULTIGRID.PHASE_UNIT", f"must be one of {PHASE_UNITS}, got {unit!r}")
    whole = unit == "epochs"
    if not mg.LONG_CYCLE:
        return _constant_schedule(cfg, base, "short" if mg.SHORT_CYCLE else "off", whole)

    stages = long_cycle_stages(cfg, base)
    single = bool(mg.SINGLE_LONG_CYCLE)
    if single:
        total_avg = sum(st.avg_multiplier for st in stages)
        layout = [(0, st, base.max_epoch * st.avg_multiplier / total_avg) for st in stages]
    else:
        layout = stepwise_layout(stages, base, bool(mg.FINE_TUNE_SHORT_CYCLE))
    ends = stretch([e for _, _, e in layout], base.max_epoch * mg.EPOCH_FACTOR, whole)
    max_epoch = ends[-1]
    need(max_epoch > 0, "MULTIGRID.EPOCH_FACTOR", f"leaves {max_epoch} epochs")
    starts = [0] + ends[:-1]
    # A single long cycle keeps the baseline's LR steps at their stretched epochs; they also
    # give each phase its LR stage.
    lr_steps = [s * max_epoch / base.max_epoch for s in base.steps]
    if whole:
        lr_steps = [int(round(s)) for s in lr_steps]
    if single:
        layout = [(index_at(lr_steps, b), st, e) for b, (_, st, e) in zip(starts, layout)]

    cosine = cfg.SOLVER.LR_POLICY == "cosine"
    if cosine:
        steps, lrs = tuple(base.steps), tuple(cfg.SOLVER.LRS)
    else:
        if single:
            raw = single_cycle_solver(layout, ends, lr_steps, cfg.SOLVER.GAMMA)
        else:
            raw = stepwise_solver(layout, ends, cfg.SOLVER.GAMMA)
        steps, lrs = drop_empty_steps(*raw, max_epoch)

    entries, phases = [], []
    for i, ((lr_stage, st, _), start, end) in enumerate(zip(layout, starts, ends)):
        entries.append((lr_stage, (st.multiplier, st.num_frames, st.crop_size), end))
        if end <= start:
            continue
        batch = st.multiplier * base.batch_size
        fine_tune = not single and i == len(layout) - 1
        short = short_cycle_shapes(
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
                jitter_scales=jitter_scales(cfg, base, short),
                min_sampling_rate=cfg.DATA.SAMPLING_RATE,
                sampling_rate=cfg.DATA.SAMPLING_RATE * (base.num_frames // st.num_frames),
                bn=bn_setting(cfg, batch),
                solver=solver_setting(
                    cfg, base, steps, lrs, max_epoch, float(st.multiplier) if cosine else None
                ),
            )
        )
    eval_rule = eval_epochs_whole if whole else eval_epochs_exact
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
        warmup_share=warmup_share(cfg, base, whole),
    )
