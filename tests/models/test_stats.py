"""params_count, gflops and log_model_info."""

from __future__ import annotations

import logging
import math

import pytest
import torch
import torch.nn as nn

from slowfast.models import build_model
from slowfast.models.stats import gflops, log_model_info, params_count

from .tiny import tiny_cfg


def _expected_gflops(model, inputs):
    """Multiply-adds of convolutions and the fc, plus 2 per element for each eval-mode BN."""
    total = 0

    def conv(m, i, o):
        nonlocal total
        total += o.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)

    def norm(m, i, o):
        nonlocal total
        total += 2 * i[0].numel()

    def linear(m, i, o):
        nonlocal total
        total += o.numel() * m.in_features

    hooks = []
    kinds = ((nn.Conv3d, conv), (nn.BatchNorm3d, norm), (nn.Linear, linear))
    for m in model.modules():
        fn = next((f for kind, f in kinds if isinstance(m, kind)), None)
        if fn is not None:
            hooks.append(m.register_forward_hook(fn))
    model.eval()
    with torch.no_grad():
        model(inputs)
    for h in hooks:
        h.remove()
    return total / 1e9


@pytest.mark.parametrize("arch", ["c2d", "slowfast"])
def test_gflops_counts_one_clip_at_the_train_and_test_shapes(arch):
    cfg = tiny_cfg(arch, 50, "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "64")
    model = build_model(cfg)
    model.train()
    t = cfg.DATA.NUM_FRAMES
    for mode, crop in (("train", 32), ("test", 64)):
        clip = torch.rand(1, 3, t, crop, crop)
        inputs = [clip[:, :, :: cfg.SLOWFAST.ALPHA], clip] if arch == "slowfast" else [clip]
        expected = _expected_gflops(model, inputs)
        model.train()
        assert gflops(model, cfg, mode) == pytest.approx(expected, rel=1e-9)
        assert model.training  # restored
    assert gflops(model, cfg, "test") > 3.5 * gflops(model, cfg, "train")
    with pytest.raises(ValueError, match="mode must be 'train' or 'test'"):
        gflops(model, cfg, "val")


def test_params_count_and_log_model_info(caplog):
    # Counted by hand: conv 4x3x1x3x3 = 108 (no bias), BN 2 x 4, linear 3x4 + 3; the frozen
    # linear counts too (2x2 + 2), BN buffers do not.
    frozen = nn.Linear(2, 2).requires_grad_(False)
    hand = nn.Sequential(nn.Conv3d(3, 4, (1, 3, 3), bias=False), nn.BatchNorm3d(4))
    hand.append(nn.Linear(4, 3)).append(frozen)
    assert params_count(hand) == 108 + 8 + 15 + 6
    cfg = tiny_cfg("c2d", 50)
    model = build_model(cfg)
    logger = logging.getLogger("slowfast")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="slowfast")
    try:
        info = log_model_info(model, cfg)
    finally:
        logger.removeHandler(caplog.handler)
    assert info["params"] == params_count(model)
    assert info["gflops_train"] == pytest.approx(gflops(model, cfg, "train"))
    assert f"Params: {params_count(model):,}" in caplog.text
    assert "at train shape (8 x 32^2)" in caplog.text and "at test shape (8 x 32^2)" in caplog.text
