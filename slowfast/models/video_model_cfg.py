"""From a config to the keyword arguments of ``create_resnet`` / ``create_slowfast``: the
``from_cfg`` side of the zoo, with PySlowFast's MODEL.ARCH tables and errors naming the key.

The tables are facts of PySlowFast's models: the temporal kernel basis of conv1 and res2..res5 and
the max pool after res2, per arch and pathway.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError
from slowfast.models.norm import get_norm
from slowfast.models.resnet_helper import STAGE_DEPTH

# Temporal kernel sizes per arch: [conv1, res2, res3, res4, res5], each a per-pathway list of the
# basis cycled over a stage's blocks (see resnet_helper.block_temporal_kernels).
TEMPORAL_KERNEL_BASIS: dict[str, list[list[list[int]]]] = {
    "2d": [[[1]], [[1]], [[1]], [[1]], [[1]]],
    "c2d": [[[1]], [[1]], [[1]], [[1]], [[1]]],
    "slow_c2d": [[[1]], [[1]], [[1]], [[1]], [[1]]],
    "i3d": [[[5]], [[3]], [[3, 1]], [[3, 1]], [[1, 3]]],
    "slow_i3d": [[[5]], [[3]], [[3, 1]], [[3, 1]], [[1, 3]]],
    "slow": [[[1]], [[1]], [[1]], [[3]], [[3]]],
    "slowfast": [[[1], [5]], [[1], [3]], [[1], [3]], [[3], [3]], [[3], [3]]],
}

# Max-pool kernel (= stride) after res2, per pathway: [T, H, W].
POOL1: dict[str, list[list[int]]] = {
    "2d": [[1, 1, 1]],
    "c2d": [[2, 1, 1]],
    "slow_c2d": [[1, 1, 1]],
    "i3d": [[2, 1, 1]],
    "slow_i3d": [[1, 1, 1]],
    "slow": [[1, 1, 1]],
    "slowfast": [[1, 1, 1], [1, 1, 1]],
}

NO_POOL = [1, 1, 1]


def check_cfg(cfg: CfgNode, num_pathways: int) -> None:
    """Raise ConfigError naming the key when the config cannot describe this model."""
    arch = cfg.MODEL.ARCH
    if arch not in POOL1:
        raise ConfigError(f"MODEL.ARCH: unknown arch {arch!r} (known: {', '.join(POOL1)})")
    if len(POOL1[arch]) != num_pathways:
        raise ConfigError(
            f"MODEL.ARCH: {arch!r} has {len(POOL1[arch])} pathway(s) but MODEL.MODEL_NAME "
            f"{cfg.MODEL.MODEL_NAME!r} builds {num_pathways}"
        )
    if cfg.RESNET.DEPTH not in STAGE_DEPTH:
        raise ConfigError(
            f"RESNET.DEPTH: must be one of {sorted(STAGE_DEPTH)}, got {cfg.RESNET.DEPTH}"
        )
    per_stage = {
        "RESNET.NUM_BLOCK_TEMP_KERNEL": cfg.RESNET.NUM_BLOCK_TEMP_KERNEL,
        "RESNET.SPATIAL_STRIDES": cfg.RESNET.SPATIAL_STRIDES,
        "RESNET.SPATIAL_DILATIONS": cfg.RESNET.SPATIAL_DILATIONS,
        "NONLOCAL.LOCATION": cfg.NONLOCAL.LOCATION,
        "NONLOCAL.GROUP": cfg.NONLOCAL.GROUP,
        "NONLOCAL.POOL": cfg.NONLOCAL.POOL,
    }
    for key, value in per_stage.items():
        # NONLOCAL.POOL defaults to two pathways and single-pathway configs leave it so: extra
        # entries are ignored there, as in PySlowFast.
        lengths = [len(stage) for stage in value]
        pool = key == "NONLOCAL.POOL"
        fits = all(n >= num_pathways if pool else n == num_pathways for n in lengths)
        if len(value) != 4 or not fits:
            raise ConfigError(
                f"{key}: needs 4 stages x {num_pathways} pathway entries for "
                f"MODEL.ARCH {arch!r}, got {value}"
            )
    if len(cfg.DATA.INPUT_CHANNEL_NUM) != num_pathways:
        entries = "1 entry" if num_pathways == 1 else f"{num_pathways} entries"
        raise ConfigError(
            f"DATA.INPUT_CHANNEL_NUM: needs {entries} for MODEL.ARCH {arch!r}, "
            f"got {list(cfg.DATA.INPUT_CHANNEL_NUM)}"
        )


def head_pool_sizes(
    cfg: CfgNode, frames: Sequence[int], pool1: Sequence[Sequence[int]]
) -> list[list[int] | None]:
    """Per-pathway head pool windows for the training shape, or None (adaptive) for multigrid."""
    if cfg.MULTIGRID.SHORT_CYCLE or cfg.MULTIGRID.LONG_CYCLE:
        return [None] * len(frames)
    sizes = []
    for p, t in enumerate(frames):
        stride = 4 * math.prod(stage[p] for stage in cfg.RESNET.SPATIAL_STRIDES)
        side = cfg.DATA.TRAIN_CROP_SIZE // stride
        sizes.append(
            [max(1, t // pool1[p][0]), max(1, side // pool1[p][1]), max(1, side // pool1[p][2])]
        )
    return sizes


def options_kwargs(cfg: CfgNode) -> dict[str, Any]:
    """The options every video ResNet builder takes (``ResNetOptions``), from RESNET.*, BN.*,
    NONLOCAL.INSTANTIATION and MODEL.*."""
    return {
        "depth": cfg.RESNET.DEPTH,
        "num_classes": cfg.MODEL.NUM_CLASSES,
        "width_per_group": cfg.RESNET.WIDTH_PER_GROUP,
        "num_groups": cfg.RESNET.NUM_GROUPS,
        "trans_func": cfg.RESNET.TRANS_FUNC,
        "stride_1x1": cfg.RESNET.STRIDE_1X1,
        "inplace_relu": cfg.RESNET.INPLACE_RELU,
        "norm": get_norm(cfg),
        "nonlocal_instantiation": cfg.NONLOCAL.INSTANTIATION,
        "dropout_rate": cfg.MODEL.DROPOUT_RATE,
        "head_act": cfg.MODEL.HEAD_ACT,
        "fc_init_std": cfg.MODEL.FC_INIT_STD,
        "zero_init_final_bn": cfg.RESNET.ZERO_INIT_FINAL_BN,
    }


def resnet_kwargs(cfg: CfgNode, *, temporal_pool: bool = True) -> dict[str, Any]:
    """``create_resnet``'s arguments for ``cfg`` (MODEL.ARCH c2d, i3d, slow, 2d, slow_c2d,
    slow_i3d); ``temporal_pool=False`` drops the max pool after res2 (``ResNet_nopool``)."""
    check_cfg(cfg, 1)
    arch = cfg.MODEL.ARCH
    pool1 = POOL1[arch][0] if temporal_pool else NO_POOL
    (head_pool,) = head_pool_sizes(cfg, [cfg.DATA.NUM_FRAMES], [pool1])
    return {
        "input_channels": cfg.DATA.INPUT_CHANNEL_NUM[0],
        "temporal_kernels": [stage[0] for stage in TEMPORAL_KERNEL_BASIS[arch]],
        "pool1": pool1,
        "spatial_strides": [stage[0] for stage in cfg.RESNET.SPATIAL_STRIDES],
        "spatial_dilations": [stage[0] for stage in cfg.RESNET.SPATIAL_DILATIONS],
        "num_block_temp_kernel": [stage[0] for stage in cfg.RESNET.NUM_BLOCK_TEMP_KERNEL],
        "nonlocal_location": [stage[0] for stage in cfg.NONLOCAL.LOCATION],
        "nonlocal_group": [stage[0] for stage in cfg.NONLOCAL.GROUP],
        "nonlocal_pool": [stage[0] for stage in cfg.NONLOCAL.POOL],
        "head_pool_size": head_pool,
        **options_kwargs(cfg),
    }


def slowfast_kwargs(cfg: CfgNode) -> dict[str, Any]:
    """``create_slowfast``'s arguments for ``cfg`` (MODEL.ARCH slowfast, SLOWFAST.*)."""
    check_cfg(cfg, 2)
    width, beta = cfg.RESNET.WIDTH_PER_GROUP, cfg.SLOWFAST.BETA_INV
    if width // beta < 1:
        raise ConfigError(
            f"RESNET.WIDTH_PER_GROUP {width} / SLOWFAST.BETA_INV {beta} leaves the Fast "
            f"pathway without channels"
        )
    pool1 = POOL1[cfg.MODEL.ARCH]
    frames = [cfg.DATA.NUM_FRAMES // cfg.SLOWFAST.ALPHA, cfg.DATA.NUM_FRAMES]
    return {
        "alpha": cfg.SLOWFAST.ALPHA,
        "beta_inv": beta,
        "fusion_conv_channel_ratio": cfg.SLOWFAST.FUSION_CONV_CHANNEL_RATIO,
        "fusion_kernel_size": cfg.SLOWFAST.FUSION_KERNEL_SZ,
        "input_channels": list(cfg.DATA.INPUT_CHANNEL_NUM),
        "temporal_kernels": TEMPORAL_KERNEL_BASIS[cfg.MODEL.ARCH],
        "pool1": pool1,
        "spatial_strides": cfg.RESNET.SPATIAL_STRIDES,
        "spatial_dilations": cfg.RESNET.SPATIAL_DILATIONS,
        "num_block_temp_kernel": cfg.RESNET.NUM_BLOCK_TEMP_KERNEL,
        "nonlocal_location": cfg.NONLOCAL.LOCATION,
        "nonlocal_group": cfg.NONLOCAL.GROUP,
        "nonlocal_pool": [stage[:2] for stage in cfg.NONLOCAL.POOL],
        "head_pool_sizes": head_pool_sizes(cfg, frames, pool1),
        **options_kwargs(cfg),
    }
