"""When to checkpoint and when to evaluate: TRAIN.CHECKPOINT_PERIOD / TRAIN.EVAL_PERIOD, or the
epochs a multigrid schedule names; always after the last epoch (PySlowFast's rules)."""

from __future__ import annotations

from typing import Any

from fvcore.common.config import CfgNode


def is_period_epoch(
    cur_epoch: int, max_epoch: int, period: int, schedule: Any = None, eval_freq: int = 3
) -> bool:
    """Whether 0-based epoch ``cur_epoch`` is one of the periodic epochs.

    Always the last one (``max_epoch - 1``). Otherwise every ``period`` epochs, or, with
    ``schedule``, the epochs it names: an iterable of 0-based epoch indices, or PySlowFast's
    list of phases (tuples ending with the phase's end epoch), ``eval_freq`` per phase.
    """
    if cur_epoch + 1 == max_epoch:
        return True
    if schedule is not None:
        schedule = list(schedule)
        if schedule and isinstance(schedule[0], (list, tuple)):
            prev_end = 0
            for phase in schedule:
                end = phase[-1]
                if cur_epoch < end:
                    step = max((end - prev_end) // eval_freq + 1, 1)
                    return (end - 1 - cur_epoch) % step == 0
                prev_end = end
        else:
            return cur_epoch in {int(e) for e in schedule}
    return period > 0 and (cur_epoch + 1) % period == 0


def is_checkpoint_epoch(cfg: CfgNode, cur_epoch: int, multigrid_schedule: Any = None) -> bool:
    """Whether to save a checkpoint after 0-based epoch ``cur_epoch``: every
    TRAIN.CHECKPOINT_PERIOD epochs, or at the epochs of ``multigrid_schedule`` (with
    MULTIGRID.EVAL_FREQ checkpoints per phase in PySlowFast's form); always after the last."""
    return is_period_epoch(
        cur_epoch, cfg.SOLVER.MAX_EPOCH, cfg.TRAIN.CHECKPOINT_PERIOD, multigrid_schedule,
        cfg.MULTIGRID.EVAL_FREQ,
    )  # fmt: skip


def is_eval_epoch(cfg: CfgNode, cur_epoch: int, multigrid_schedule: Any = None) -> bool:
    """Whether to evaluate after 0-based epoch ``cur_epoch``: as :func:`is_checkpoint_epoch`
    with TRAIN.EVAL_PERIOD."""
    return is_period_epoch(
        cur_epoch, cfg.SOLVER.MAX_EPOCH, cfg.TRAIN.EVAL_PERIOD, multigrid_schedule,
        cfg.MULTIGRID.EVAL_FREQ,
    )  # fmt: skip
