"""Model statistics: parameter count and GFLOPs at the training or test input shape.

GFLOPs are fvcore's counts (one multiply-add = one flop, convolutions / matmuls / linear /
batch norm) divided by 1e9, for one clip (batch 1) with the model in evaluation mode, as
PySlowFast reports them (its model zoo's "GFLOPs" column is this number at the test shape).
"""

from __future__ import annotations

import logging

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode
from fvcore.nn import FlopCountAnalysis

from slowfast.utils.logging import get_logger

logger = get_logger(__name__)


def params_count(model: nn.Module) -> int:
    """Number of parameters (every tensor of ``model.parameters()``, trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def dummy_inputs(
    cfg: CfgNode,
    batch: int = 1,
    frames: int | None = None,
    crop: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> list[torch.Tensor]:
    """Random clips packed per pathway: ``N x C x T x S x S`` (SlowFast: the Slow pathway takes
    every ALPHA-th of the ``frames`` frames). Defaults: DATA.NUM_FRAMES, DATA.TRAIN_CROP_SIZE."""
    frames = cfg.DATA.NUM_FRAMES if frames is None else frames
    crop = cfg.DATA.TRAIN_CROP_SIZE if crop is None else crop
    channels = cfg.DATA.INPUT_CHANNEL_NUM
    if cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH:
        alpha = cfg.SLOWFAST.ALPHA
        shapes = [(channels[0], max(1, frames // alpha)), (channels[1], frames)]
    else:
        shapes = [(channels[0], frames)]
    return [torch.rand(batch, c, t, crop, crop, device=device, dtype=dtype) for c, t in shapes]


def _model_device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def gflops(model: nn.Module, cfg: CfgNode, mode: str = "train") -> float:
    """GFLOPs of one clip at the ``train`` (TRAIN_CROP_SIZE) or ``test`` (TEST_CROP_SIZE) shape,
    ``DATA.NUM_FRAMES`` frames. The model runs once, in eval mode, without gradients."""
    if mode not in ("train", "test"):
        raise ValueError(f"gflops: mode must be 'train' or 'test', got {mode!r}")
    model = getattr(model, "module", model)  # DistributedDataParallel wrapper
    crop = cfg.DATA.TRAIN_CROP_SIZE if mode == "train" else cfg.DATA.TEST_CROP_SIZE
    inputs = dummy_inputs(cfg, crop=crop, device=_model_device(model))
    was_training = model.training
    model.eval()
    try:
        analysis = FlopCountAnalysis(model, (inputs,))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        # fvcore logs one line per op type it skips (pooling, softmax, ...): not our business.
        fv_logger = logging.getLogger("fvcore.nn.jit_analysis")
        level = fv_logger.level
        fv_logger.setLevel(logging.ERROR)
        try:
            with torch.no_grad():
                total = analysis.total()
        finally:
            fv_logger.setLevel(level)
    finally:
        model.train(was_training)
    return total / 1e9


def log_model_info(
    model: nn.Module, cfg: CfgNode, use_train_input: bool = True
) -> dict[str, float]:
    """Log the parameter count and GFLOPs at the train and test shapes; returns them.
    ``use_train_input`` is PySlowFast's argument, accepted for its callers: both shapes are
    logged whatever it says."""
    model = getattr(model, "module", model)
    info = {
        "params": float(params_count(model)),
        "gflops_train": gflops(model, cfg, "train"),
        "gflops_test": gflops(model, cfg, "test"),
    }
    logger.info("Model:\n%s", model)
    logger.info("Params: %s", f"{int(info['params']):,}")
    logger.info(
        "GFLOPs per clip: %.2f at train shape (%d x %d^2), %.2f at test shape (%d x %d^2)",
        info["gflops_train"],
        cfg.DATA.NUM_FRAMES,
        cfg.DATA.TRAIN_CROP_SIZE,
        info["gflops_test"],
        cfg.DATA.NUM_FRAMES,
        cfg.DATA.TEST_CROP_SIZE,
    )
    return info
