"""Small configs and inputs shared by the model tests (tiny widths, tiny clips, CPU)."""

from __future__ import annotations

import os

import torch

from slowfast.config import build_cfg
from slowfast.config.defaults import assert_and_infer_cfg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINETICS = os.path.join(ROOT, "configs", "Kinetics")

# MODEL.ARCH -> the shipped config that builds it.
ARCH_CONFIGS = {
    "c2d": "C2D_8x8_R50.yaml",
    "i3d": "I3D_NLN_8x8_R50.yaml",  # with non-local blocks, to exercise them too
    "slow": "SLOW_8x8_R50.yaml",
    "slowfast": "SLOWFAST_8x8_R50.yaml",
}

R101_TEMP_KERNEL = {
    "slowfast": "[[3, 3], [4, 4], [23, 23], [3, 3]]",
    "single": "[[3], [4], [23], [3]]",
}


def config_path(name: str) -> str:
    return os.path.join(KINETICS, name)


def tiny_opts(arch: str = "c2d", depth: int = 50, *opts: object) -> tuple[str, list[str]]:
    """(shipped config file, KEY VALUE overrides) of :func:`tiny_cfg`, for tools that take a
    config file and overrides."""
    slowfast = arch == "slowfast"
    base = [
        "NUM_GPUS", "0",
        "RESNET.WIDTH_PER_GROUP", "16" if slowfast else "8",
        "DATA.NUM_FRAMES", "16" if slowfast else "8",
        "DATA.TRAIN_CROP_SIZE", "32",
        "DATA.TEST_CROP_SIZE", "32",
        "MODEL.NUM_CLASSES", "3",
        "MODEL.DROPOUT_RATE", "0.0",
        "TRAIN.BATCH_SIZE", "2",
        "TEST.BATCH_SIZE", "2",
        "RESNET.DEPTH", str(depth),
    ]  # fmt: skip
    if depth == 101:
        kernels = R101_TEMP_KERNEL["slowfast" if slowfast else "single"]
        base += ["RESNET.NUM_BLOCK_TEMP_KERNEL", kernels]
    return config_path(ARCH_CONFIGS[arch]), base + [str(o) for o in opts]


def tiny_cfg(arch: str = "c2d", depth: int = 50, *opts: object):
    """The shipped config of ``arch`` shrunk: width 8 (SlowFast 16), 8 frames (SlowFast 16 with
    ALPHA 4), crop 32, 3 classes, no dropout, CPU. ``opts``: extra KEY VALUE overrides."""
    path, overrides = tiny_opts(arch, depth, *opts)
    return assert_and_infer_cfg(build_cfg([path], overrides))


def clip_inputs(cfg, batch: int = 2, frames: int | None = None, crop: int | None = None):
    """Random input list for ``cfg``'s model (SlowFast: Slow = every ALPHA-th frame)."""
    frames = cfg.DATA.NUM_FRAMES if frames is None else frames
    crop = cfg.DATA.TRAIN_CROP_SIZE if crop is None else crop
    clip = torch.randn(batch, 3, frames, crop, crop)
    if cfg.MODEL.ARCH == "slowfast":
        return [clip[:, :, :: cfg.SLOWFAST.ALPHA].contiguous(), clip]
    return [clip]
