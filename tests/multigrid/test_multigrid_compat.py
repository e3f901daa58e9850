"""PySlowFast's MultigridSchedule interface (slowfast/multigrid/compat.py) over our schedule."""

import logging
import os

import pytest

from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.multigrid import build_schedule
from slowfast.multigrid.cfg_input import pyslowfast_rules
from slowfast.multigrid.compat import (
    MultigridSchedule,
    get_current_long_cycle_shape,
    print_schedule,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINETICS = os.path.join(ROOT, "configs/Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.yaml")


def load(*opts):
    return assert_and_infer_cfg(build_cfg([KINETICS], [str(o) for o in opts]))


def test_init_multigrid_rewrites_in_place_once():
    cfg = load()
    multigrid = MultigridSchedule()
    assert multigrid.init_multigrid(cfg) is cfg
    assert cfg.SOLVER.MAX_EPOCH == 358 and cfg.MULTIGRID.DEFAULT_B == 64
    assert multigrid.schedule[0] == (0, [8, 8, 158], 73)
    assert multigrid.schedule[-1] == (3, [1, 32, 224], 358)
    before = cfg.dump()
    MultigridSchedule().init_multigrid(cfg)  # a second call (even a new object) changes nothing
    assert cfg.dump() == before


@pytest.mark.parametrize(
    "opts", [(), ("MULTIGRID.SHORT_CYCLE", False), ("MULTIGRID.SINGLE_LONG_CYCLE", True)]
)
def test_update_long_cycle_changes_exactly_when_the_shape_does(opts):
    cfg = load(*opts)
    multigrid = MultigridSchedule()
    cfg = multigrid.init_multigrid(cfg)
    plan = build_schedule(pyslowfast_rules(cfg))
    shape_changes = {0} | {
        b.start
        for a, b in zip(plan.phases, plan.phases[1:])
        if (a.num_frames, a.crop_size) != (b.num_frames, b.crop_size)
    }
    changed = set()
    for epoch in range(cfg.SOLVER.MAX_EPOCH):
        cfg, did = multigrid.update_long_cycle(cfg, epoch)
        if did:
            changed.add(epoch)
        phase = plan.phase_at(epoch)
        assert (cfg.TRAIN.BATCH_SIZE, cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE) == (
            phase.batch_size,
            phase.num_frames,
            phase.crop_size,
        )
    assert changed == shape_changes
    if not opts:  # the fine-tuning phase keeps the last long-cycle shape: no change at 329
        assert 329 not in changed and len(changed) == 12


def test_update_long_cycle_needs_init():
    with pytest.raises(RuntimeError, match="init_multigrid"):
        MultigridSchedule().update_long_cycle(load(), 0)


def test_short_cycle_only_has_no_long_cycle_list():
    cfg = load("MULTIGRID.LONG_CYCLE", False)
    multigrid = MultigridSchedule()
    multigrid.init_multigrid(cfg)
    assert multigrid.schedule is None
    assert cfg.SOLVER.MAX_EPOCH == 358 and list(cfg.SOLVER.STEPS) == [0, 141, 231, 294]
    assert multigrid.update_long_cycle(cfg, 0) == (cfg, False)


def test_module_helpers():
    schedule = MultigridSchedule().get_long_cycle_schedule(load())
    assert get_current_long_cycle_shape(schedule, 0) == [8, 8, 158]
    assert get_current_long_cycle_shape(schedule, 72) == [8, 8, 158]
    assert get_current_long_cycle_shape(schedule, 73) == [4, 16, 158]
    assert get_current_long_cycle_shape(schedule, 999) == [1, 32, 224]


def test_print_schedule_logs_every_entry(caplog, package_log):
    schedule = MultigridSchedule().get_long_cycle_schedule(load())
    with package_log(logging.INFO, "slowfast.multigrid.compat"):
        print_schedule(schedule)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 + len(schedule)
    assert lines[1] == "0\t[8, 8, 158]\t73"
