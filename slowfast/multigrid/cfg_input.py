"""What a multigrid schedule is built from, read from a cfg and checked.

The baseline run (the same config without multigrid) is read from an original cfg or from one
:func:`~slowfast.multigrid.cfg_rewrite.init_cfg` rewrote; :func:`check_cfg` raises
:class:`ConfigError` for MULTIGRID / SOLVER settings a schedule cannot honour. The numbers follow
PySlowFast's ``slowfast/utils/multigrid.py`` (docs/MULTIGRID.md derives them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError
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
class Baseline:
    """The numbers of the run without multigrid, whatever rewriting the cfg has been through."""

    batch_size: int
    num_frames: int
    crop_size: int
    steps: tuple[int, ...]
    max_epoch: int
    base_lr: float
    cosine_end_lr: float
    warmup_start_lr: float


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


def need(cond: bool, key: str, msg: str) -> None:
    """Raise :class:`ConfigError` ``"KEY: msg"`` unless ``cond``."""
    if not cond:
        raise ConfigError(f"{key}: {msg}")


def is_initialised(cfg: CfgNode) -> bool:
    """Whether init_cfg (or PySlowFast's init_multigrid) has rewritten ``cfg``."""
    return cfg.MULTIGRID.DEFAULT_B > 0


def read_baseline(cfg: CfgNode) -> Baseline:
    """Read the baseline from an original cfg, or from one :func:`init_cfg` (and possibly
    :func:`apply_phase`) rewrote: those keep it in MULTIGRID.DEFAULT_*. A cosine phase scales the
    LR keys by its batch multiplier, TRAIN.BATCH_SIZE / DEFAULT_B, which is divided out here.
    """
    mg, solver = cfg.MULTIGRID, cfg.SOLVER
    if not is_initialised(cfg):
        return Baseline(
            cfg.TRAIN.BATCH_SIZE,
            cfg.DATA.NUM_FRAMES,
            cfg.DATA.TRAIN_CROP_SIZE,
            tuple(solver.STEPS),
            solver.MAX_EPOCH,
            solver.BASE_LR,
            solver.COSINE_END_LR,
            solver.WARMUP_START_LR,
        )
    need(
        mg.DEFAULT_MAX_EPOCH > 0,
        "MULTIGRID.DEFAULT_MAX_EPOCH",
        "MULTIGRID.DEFAULT_B is set but the baseline solver is unknown (a config rewritten by "
        "PySlowFast's init_multigrid?); build the schedule from the original config",
    )
    scale = 1.0
    if mg.LONG_CYCLE and solver.LR_POLICY == "cosine":
        scale = cfg.TRAIN.BATCH_SIZE / mg.DEFAULT_B
    return Baseline(
        mg.DEFAULT_B,
        mg.DEFAULT_T,
        mg.DEFAULT_S,
        tuple(mg.DEFAULT_STEPS),
        mg.DEFAULT_MAX_EPOCH,
        solver.BASE_LR / scale,
        solver.COSINE_END_LR / scale,
        solver.WARMUP_START_LR / scale,
    )


def check_cfg(cfg: CfgNode, base: Baseline) -> None:
    """Raise :class:`ConfigError` for settings the schedule of ``cfg`` cannot honour; warn when
    SOLVER.LRS differs from the GAMMA powers multigrid uses."""
    mg = cfg.MULTIGRID
    for key, value in (
        ("TRAIN.BATCH_SIZE", base.batch_size),
        ("DATA.NUM_FRAMES", base.num_frames),
        ("DATA.TRAIN_CROP_SIZE", base.crop_size),
        ("SOLVER.MAX_EPOCH", base.max_epoch),
        ("MULTIGRID.BN_BASE_SIZE", mg.BN_BASE_SIZE),
        ("MULTIGRID.EVAL_FREQ", mg.EVAL_FREQ),
    ):
        need(value > 0, key, f"must be positive, got {value}")
    need(mg.EPOCH_FACTOR > 0, "MULTIGRID.EPOCH_FACTOR", f"must be positive, got {mg.EPOCH_FACTOR}")
    need(
        mg.PHASE_UNIT in PHASE_UNITS,
        "MULTIGRID.PHASE_UNIT",
        f"must be one of {PHASE_UNITS}, got {mg.PHASE_UNIT!r}",
    )
    need(
        mg.WARMUP_UNIT in PHASE_UNITS,
        "MULTIGRID.WARMUP_UNIT",
        f"must be one of {PHASE_UNITS}, got {mg.WARMUP_UNIT!r}",
    )
    need(
        mg.SHORT_CYCLE_RULE in SHORT_CYCLE_RULES,
        "MULTIGRID.SHORT_CYCLE_RULE",
        f"must be one of {SHORT_CYCLE_RULES}, got {mg.SHORT_CYCLE_RULE!r}",
    )
    need(
        not mg.SINGLE_LONG_CYCLE or mg.LONG_CYCLE,
        "MULTIGRID.SINGLE_LONG_CYCLE",
        "needs MULTIGRID.LONG_CYCLE True",
    )
    if mg.SHORT_CYCLE:
        factors = list(mg.SHORT_CYCLE_FACTORS)
        need(
            bool(factors) and all(0 < f <= 1 for f in factors),
            "MULTIGRID.SHORT_CYCLE_FACTORS",
            f"must be crop factors in (0, 1], got {factors}",
        )
    if not mg.LONG_CYCLE:
        return
    need(
        cfg.SOLVER.LR_POLICY in LONG_CYCLE_POLICIES,
        "SOLVER.LR_POLICY",
        f"the long cycle needs one of {LONG_CYCLE_POLICIES}, got {cfg.SOLVER.LR_POLICY!r}",
    )
    factors = [tuple(f) for f in mg.LONG_CYCLE_FACTORS]
    need(
        bool(factors) and all(len(f) == 2 and f[0] > 0 and f[1] > 0 for f in factors),
        "MULTIGRID.LONG_CYCLE_FACTORS",
        f"must be a non-empty list of positive (frames, crop) factors, got {factors}",
    )
    if cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH:
        alpha = cfg.SLOWFAST.ALPHA
        for t_factor, _ in factors:
            frames = int(round(base.num_frames * t_factor))
            need(
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
    need(
        len(steps) >= min_len and steps[0] == 0,
        "SOLVER.STEPS",
        f"the long cycle needs at least {min_len} entries starting at 0{hint}, got {steps}",
    )
    need(
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
