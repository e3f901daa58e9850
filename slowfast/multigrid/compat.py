"""PySlowFast's multigrid interface, for training scripts written against it.

``MultigridSchedule`` keeps PySlowFast's methods and its ``.schedule`` list (PySlowFast has it in
``slowfast/utils/multigrid.py``); the work is done by :func:`~slowfast.multigrid.build_schedule`
and :mod:`slowfast.multigrid.cfg_rewrite`, which new code should use directly. It always builds
PySlowFast's schedule (whole-epoch phases, the short cycle in fine-tuning, PySlowFast's
short-cycle rule), whatever MULTIGRID.PHASE_UNIT / FINE_TUNE_SHORT_CYCLE / SHORT_CYCLE_RULE say.
Differences from PySlowFast: ``init_multigrid`` is idempotent, a long cycle without a short cycle
works, empty phases are dropped from SOLVER.STEPS, and the BN setting counts every process
(TRAIN.BATCH_SIZE is global here). See docs/MULTIGRID.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from fvcore.common.config import CfgNode

from slowfast.multigrid.builder import build_schedule
from slowfast.multigrid.cfg_input import pyslowfast_rules
from slowfast.multigrid.cfg_rewrite import init_updates, set_keys
from slowfast.multigrid.schedule import Schedule
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

# (LR stage, [batch factor, frames, crop], end epoch), as PySlowFast's schedule list.
Entry = tuple[int, list[int], int]


class MultigridSchedule:
    """Builds the schedule from a cfg and rewrites that cfg in place, as PySlowFast's does.

    ``schedule`` is PySlowFast's list (None without a long cycle); ``plan`` the full
    :class:`~slowfast.multigrid.schedule.Schedule`.
    """

    def __init__(self) -> None:
        self.schedule: list[Entry] | None = None
        self.plan: Schedule | None = None

    def init_multigrid(self, cfg: CfgNode) -> CfgNode:
        """Store the default shape in MULTIGRID.DEFAULT_B/T/S and rewrite SOLVER.STEPS / LRS /
        MAX_EPOCH for the schedule, in place; returns ``cfg``. Calling it again changes nothing.
        """
        rules = pyslowfast_rules(cfg)
        self.plan = build_schedule(rules)
        self.schedule = get_schedule_list(self.plan) if self.plan.long_cycle else None
        set_keys(cfg, init_updates(rules, self.plan))
        if self.schedule is not None:
            print_schedule(self.schedule)
        return cfg

    def update_long_cycle(self, cfg: CfgNode, cur_epoch: int) -> tuple[CfgNode, bool]:
        """Before an epoch: if its long-cycle shape differs from the cfg's frames and crop,
        write the phase into ``cfg`` in place (batch size, frames, crop, sampling rate, BN, and
        the solver keys, which change only with the cosine policy). Returns (cfg, changed).
        """
        if self.plan is None:
            raise RuntimeError("call init_multigrid(cfg) before update_long_cycle")
        phase = self.plan.phase_at(cur_epoch)
        if (phase.num_frames, phase.crop_size) == (cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE):
            return cfg, False
        set_keys(cfg, phase.cfg_updates())
        bn = cfg.BN
        detail = {
            "sync_batchnorm": f" x{bn.NUM_SYNC_DEVICES}",
            "sub_batchnorm": f" /{bn.NUM_SPLITS}",
        }
        logger.info(
            "long cycle update at epoch %d: TRAIN.BATCH_SIZE %d, DATA.NUM_FRAMES %d (sampling "
            "rate up to %d), DATA.TRAIN_CROP_SIZE %d, BN.NORM_TYPE %s%s",
            cur_epoch,
            cfg.TRAIN.BATCH_SIZE,
            cfg.DATA.NUM_FRAMES,
            cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE,
            cfg.DATA.TRAIN_CROP_SIZE,
            bn.NORM_TYPE,
            detail.get(bn.NORM_TYPE, ""),
        )
        return cfg, True

    def get_long_cycle_schedule(self, cfg: CfgNode) -> list[Entry]:
        """The long-cycle schedule list of ``cfg`` (PySlowFast's method; needs LONG_CYCLE)."""
        return get_schedule_list(build_schedule(pyslowfast_rules(cfg)))


def get_schedule_list(plan: Schedule) -> list[Entry]:
    """PySlowFast's ``(LR stage, [B factor, T, S], end epoch)`` list, empty entries included."""
    return [(stage, list(shape), end) for stage, shape, end in plan.entries]


def print_schedule(schedule: Sequence[Entry]) -> None:
    """Log the schedule list, one entry per line."""
    logger.info("Long cycle index\tBase shape\tEpochs")
    for stage, shape, end in schedule:
        logger.info("%s\t%s\t%s", stage, list(shape), end)


def get_current_long_cycle_shape(schedule: Sequence[Entry], epoch: int) -> list[int]:
    """``[B factor, T, S]`` of the entry holding ``epoch`` (the last one past the end)."""
    for _, shape, end in schedule:
        if epoch < end:
            return list(shape)
    return list(schedule[-1][1])
