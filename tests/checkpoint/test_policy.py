"""The checkpoint / evaluation epoch policy (periods, explicit epochs, PySlowFast schedules)."""

from slowfast.checkpoint.policy import is_checkpoint_epoch, is_eval_epoch
from slowfast.config.defaults import get_cfg


def test_checkpoint_and_eval_epochs():
    cfg = get_cfg()
    cfg.SOLVER.MAX_EPOCH = 20
    cfg.TRAIN.CHECKPOINT_PERIOD = 5
    cfg.TRAIN.EVAL_PERIOD = 3
    assert [e for e in range(20) if is_checkpoint_epoch(cfg, e)] == [4, 9, 14, 19]
    assert [e for e in range(20) if is_eval_epoch(cfg, e)] == [2, 5, 8, 11, 14, 17, 19]
    assert [e for e in range(20) if is_eval_epoch(cfg, e, {3, 7})] == [3, 7, 19]
    # PySlowFast's schedule form: phases ending at epochs 6 and 20, EVAL_FREQ 3.
    cfg.MULTIGRID.EVAL_FREQ = 3
    schedule = [(0, 8, 224, 6), (1, 16, 224, 20)]
    got = [e for e in range(20) if is_checkpoint_epoch(cfg, e, schedule)]
    assert got == [2, 5, 9, 14, 19]  # phase 1: period 3, phase 2: period 5
