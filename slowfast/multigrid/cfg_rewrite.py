"""The config rewrite for PySlowFast compatibility: prepare a config for its schedule once, then
write one phase into it.

:func:`init_cfg` rewrites the solver for the schedule once, as PySlowFast's ``init_multigrid``
does, and :func:`apply_phase` writes one phase into a config, the keys PySlowFast's
``update_long_cycle`` rewrites. See docs/MULTIGRID.md.
"""

from __future__ import annotations

from typing import Any

from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError
from slowfast.config.validate import thawed
from slowfast.multigrid.builder import build_schedule
from slowfast.multigrid.cfg_input import is_initialised
from slowfast.multigrid.phase import Phase
from slowfast.multigrid.schedule import Schedule


def set_keys(cfg: CfgNode, updates: dict[str, Any]) -> CfgNode:
    """Write dotted ``key -> value`` pairs into ``cfg`` in place; returns ``cfg``. A frozen cfg
    (validated at the edge) is thawed for the rewrite and frozen again."""
    with thawed(cfg):
        for key, value in updates.items():
            *path, leaf = key.split(".")
            node = cfg
            for part in path:
                node = node[part]
            node[leaf] = value
    return cfg


def init_updates(cfg: CfgNode, schedule: Schedule | None = None) -> dict[str, Any]:
    """The keys :func:`init_cfg` writes: MULTIGRID.DEFAULT_* and the rewritten solver."""
    if not (cfg.MULTIGRID.LONG_CYCLE or cfg.MULTIGRID.SHORT_CYCLE) or is_initialised(cfg):
        return {}
    schedule = schedule or build_schedule(cfg)
    return {
        "MULTIGRID.DEFAULT_B": schedule.default_batch_size,
        "MULTIGRID.DEFAULT_T": schedule.default_num_frames,
        "MULTIGRID.DEFAULT_S": schedule.default_crop_size,
        "MULTIGRID.DEFAULT_STEPS": list(schedule.baseline_steps),
        "MULTIGRID.DEFAULT_MAX_EPOCH": schedule.baseline_max_epoch,
        "SOLVER.STEPS": schedule.steps,
        "SOLVER.LRS": schedule.lrs,
        "SOLVER.MAX_EPOCH": schedule.num_epochs,
    }


def init_cfg(cfg: CfgNode) -> CfgNode:
    """A copy of ``cfg`` prepared for multigrid training, as PySlowFast's ``init_multigrid``:
    MULTIGRID.DEFAULT_B/T/S keep the default shape, MULTIGRID.DEFAULT_STEPS/MAX_EPOCH the
    baseline solver, and SOLVER.STEPS/LRS/MAX_EPOCH become the schedule's.

    Idempotent: a cfg whose MULTIGRID.DEFAULT_B is already set counts as prepared and comes back
    unchanged. Without LONG_CYCLE or SHORT_CYCLE nothing changes either.
    """
    return set_keys(cfg.clone(), init_updates(cfg))


def apply_phase(cfg: CfgNode, phase: Phase) -> CfgNode:
    """A copy of ``cfg`` set to train ``phase``: TRAIN.BATCH_SIZE, DATA.NUM_FRAMES,
    DATA.TRAIN_CROP_SIZE, MULTIGRID.LONG_CYCLE_SAMPLING_RATE, BN.NORM_TYPE / NUM_SPLITS /
    NUM_SYNC_DEVICES and SOLVER.STEPS / LRS / MAX_EPOCH (and, with the cosine policy and a long
    cycle, the LR keys scaled by the phase's batch multiplier). Pure: the result depends on the
    phase only, so applying a phase twice, or over another phase, is safe.
    """
    mg = cfg.MULTIGRID
    if (mg.LONG_CYCLE or mg.SHORT_CYCLE) and not is_initialised(cfg):
        raise ConfigError(
            "MULTIGRID.DEFAULT_B: is 0, so the default shape is unknown; "
            "call init_cfg(cfg) before apply_phase"
        )
    return set_keys(cfg.clone(), phase.cfg_updates())
