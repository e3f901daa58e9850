import math

import pytest
import torch

from slowfast.config.defaults import get_cfg
from slowfast.config.errors import ConfigError
from slowfast.utils.lr_policy import get_lr_at_epoch, set_lr


def _kinetics_steps():
    cfg = get_cfg()
    cfg.SOLVER.LR_POLICY = "steps_with_relative_lrs"
    cfg.SOLVER.BASE_LR = 0.1
    cfg.SOLVER.STEPS = [0, 94, 154, 196]
    cfg.SOLVER.LRS = [1, 0.1, 0.01, 0.001]
    cfg.SOLVER.MAX_EPOCH = 239
    cfg.SOLVER.WARMUP_EPOCHS = 34
    cfg.SOLVER.WARMUP_START_LR = 0.01
    return cfg


@pytest.mark.parametrize(
    "epoch, expected",
    [
        (0, 0.01),
        (17, 0.01 + 17 * (0.1 - 0.01) / 34),  # = 0.055, half-way up the warm-up
        (33.5, 0.01 + 33.5 * 0.09 / 34),  # fractional epoch inside warm-up
        (34, 0.1),
        (93.99, 0.1),
        (94, 0.01),
        (100, 0.01),
        (154, 0.001),
        (200, 0.0001),
        (239, 0.0001),  # past MAX_EPOCH: the last step's value
    ],
)
def test_steps_with_relative_lrs_and_warmup(epoch, expected):
    assert get_lr_at_epoch(_kinetics_steps(), epoch) == pytest.approx(expected, rel=1e-12)


def test_cosine_with_warmup_matches_formula():
    cfg = get_cfg()
    cfg.SOLVER.LR_POLICY = "cosine"
    cfg.SOLVER.BASE_LR = 0.8
    cfg.SOLVER.COSINE_END_LR = 0.008
    cfg.SOLVER.MAX_EPOCH = 100
    cfg.SOLVER.WARMUP_EPOCHS = 10
    cfg.SOLVER.WARMUP_START_LR = 0.1

    def cosine(e):
        return 0.008 + (0.8 - 0.008) * (math.cos(math.pi * e / 100) + 1) * 0.5

    assert get_lr_at_epoch(cfg, 0) == pytest.approx(0.1)
    assert get_lr_at_epoch(cfg, 5) == pytest.approx(0.1 + 5 * (cosine(10) - 0.1) / 10)
    assert get_lr_at_epoch(cfg, 10) == pytest.approx(cosine(10))
    assert get_lr_at_epoch(cfg, 50) == pytest.approx(0.404)  # midpoint: mean of both ends
    assert get_lr_at_epoch(cfg, 100) == pytest.approx(0.008)

    cfg.SOLVER.COSINE_AFTER_WARMUP = True  # the cosine starts at the end of warm-up
    assert get_lr_at_epoch(cfg, 10) == pytest.approx(0.8)
    assert get_lr_at_epoch(cfg, 55) == pytest.approx(0.404)
    assert get_lr_at_epoch(cfg, 5) == pytest.approx(0.1 + 5 * (0.8 - 0.1) / 10)


def test_steps_and_constant_policies():
    cfg = get_cfg()
    cfg.SOLVER.LR_POLICY = "steps"
    cfg.SOLVER.BASE_LR = 0.4
    cfg.SOLVER.GAMMA = 0.1
    cfg.SOLVER.STEPS = [0, 10, 20]
    cfg.SOLVER.MAX_EPOCH = 30
    assert [get_lr_at_epoch(cfg, e) for e in (0, 9.9, 10, 25)] == pytest.approx(
        [0.4, 0.4, 0.04, 0.004]
    )
    cfg.SOLVER.LR_POLICY = "constant"
    assert get_lr_at_epoch(cfg, 25) == 0.4


def test_config_errors_name_the_key():
    cfg = get_cfg()
    cfg.SOLVER.LR_POLICY = "linear_decay"
    with pytest.raises(ConfigError, match="SOLVER.LR_POLICY.*linear_decay"):
        get_lr_at_epoch(cfg, 1)
    cfg = _kinetics_steps()
    cfg.SOLVER.STEPS = [5, 10]
    with pytest.raises(ConfigError, match="SOLVER.STEPS must start at 0"):
        get_lr_at_epoch(cfg, 40)
    cfg = get_cfg()
    cfg.SOLVER.COSINE_END_LR = 1.0
    with pytest.raises(ConfigError, match="COSINE_END_LR"):
        get_lr_at_epoch(cfg, 1)


def test_set_lr_honours_lr_scale():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr_scale": 0.5}], lr=1.0)
    set_lr(opt, 0.2)
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.1]
