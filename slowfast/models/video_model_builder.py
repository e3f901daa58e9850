"""The video ResNets: ``ResNet`` (C2D, I3D, Slow) and ``SlowFast``, selected by MODEL.ARCH.

Module names and parameter shapes are PySlowFast's for the same config (``s1.pathway0_stem.conv``,
``s2.pathway0_res0.branch2.a``, ``s1_fuse.conv_f2s``, ``head.projection``, ...), so its ``.pyth``
checkpoints load strictly. The architecture tables below are facts of those models.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError
from slowfast.models.build import MODEL_REGISTRY
from slowfast.models.head_helper import ResNetBasicHead
from slowfast.models.norm import NormFactory, get_norm
from slowfast.models.resnet_helper import ResStage
from slowfast.models.stem_helper import VideoModelStem
from slowfast.models.weight_init import init_weights
from slowfast.utils.precision import Conv3d

# Blocks per stage (res2..res5) for each RESNET.DEPTH.
STAGE_DEPTH: dict[int, tuple[int, int, int, int]] = {
    18: (2, 2, 2, 2),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
}

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


def _check_cfg(cfg: CfgNode, num_pathways: int, model_name: str) -> None:
    """Raise ConfigError naming the key when the config cannot describe this model."""
    arch = cfg.MODEL.ARCH
    if arch not in POOL1:
        raise ConfigError(f"MODEL.ARCH: unknown arch {arch!r} (known: {', '.join(POOL1)})")
    if len(POOL1[arch]) != num_pathways:
        raise ConfigError(
            f"MODEL.ARCH: {arch!r} has {len(POOL1[arch])} pathway(s) but MODEL.MODEL_NAME "
            f"{model_name!r} builds {num_pathways}"
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


def _head_pool_sizes(
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


class FuseFastToSlow(nn.Module):
    """Lateral connection: a strided T x 1 x 1 conv on the Fast pathway, norm, ReLU,
    concatenated to the Slow pathway's channels. Maps [slow, fast] to [slow+fused, fast]."""

    def __init__(
        self,
        *,
        dim_in: int,
        fusion_conv_channel_ratio: int,
        fusion_kernel: int,
        alpha: int,
        norm: NormFactory,
        inplace_relu: bool = True,
    ) -> None:
        super().__init__()
        self.conv_f2s = Conv3d(
            dim_in,
            dim_in * fusion_conv_channel_ratio,
            kernel_size=[fusion_kernel, 1, 1],
            stride=[alpha, 1, 1],
            padding=[fusion_kernel // 2, 0, 0],
            bias=False,
        )
        self.bn = norm(dim_in * fusion_conv_channel_ratio)
        self.relu = nn.ReLU(inplace_relu)

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        slow, fast = x
        fused = self.relu(self.bn(self.conv_f2s(fast)))
        return [torch.cat([slow, fused], 1), fast]


class _VideoResNet(nn.Module):
    """Shared construction of the single- and two-pathway ResNets.

    Stage ``s`` (res2..res5) of pathway ``p`` has output width ``widths[p] * 4 * 2**(s-2)`` and
    bottleneck width ``inner[p] * 2**(s-2)``; the Slow pathway's input also carries the channels
    fused from the Fast pathway after stage ``s - 1`` (SlowFast only: the ``_fusion*`` hooks).
    """

    num_pathways: int
    pool1_override: list[list[int]] | None = None

    def __init__(self, cfg: CfgNode) -> None:
        super().__init__()
        _check_cfg(cfg, self.num_pathways, type(self).__name__)
        self.norm_module = get_norm(cfg)
        self._build(cfg)
        init_weights(self, cfg.MODEL.FC_INIT_STD, cfg.RESNET.ZERO_INIT_FINAL_BN)

    # Overridden by SlowFast.
    def _pathway_widths(self, cfg: CfgNode) -> tuple[list[int], list[int]]:
        width = cfg.RESNET.WIDTH_PER_GROUP
        return [width], [cfg.RESNET.NUM_GROUPS * width]

    def _fusion_widths(self, cfg: CfgNode, widths: list[int]) -> list[int]:
        return [0, 0, 0, 0, 0]

    def _add_fusion(self, cfg: CfgNode, stage: int, widths: list[int]) -> None:
        pass

    def _head_frames(self, cfg: CfgNode) -> list[int]:
        return [cfg.DATA.NUM_FRAMES]

    def _build(self, cfg: CfgNode) -> None:
        arch = cfg.MODEL.ARCH
        kernels = TEMPORAL_KERNEL_BASIS[arch]
        pool1 = self.pool1_override or POOL1[arch]
        depths = STAGE_DEPTH[cfg.RESNET.DEPTH]
        widths, inner = self._pathway_widths(cfg)
        extra = self._fusion_widths(cfg, widths)
        paths = range(self.num_pathways)
        norm = self.norm_module

        self.s1 = VideoModelStem(
            dim_in=list(cfg.DATA.INPUT_CHANNEL_NUM),
            dim_out=widths,
            kernel=[kernels[0][p] + [7, 7] for p in paths],
            stride=[[1, 2, 2]] * self.num_pathways,
            padding=[[kernels[0][p][0] // 2, 3, 3] for p in paths],
            norm=norm,
            inplace_relu=cfg.RESNET.INPLACE_RELU,
        )
        self._add_fusion(cfg, 1, widths)
        for s in range(2, 6):
            idx = s - 2
            scale = 2**idx
            dim_in = [widths[p] * (1 if s == 2 else 2 * scale) for p in paths]
            dim_in[0] += extra[s - 1]
            stage = ResStage(
                dim_in=dim_in,
                dim_out=[widths[p] * 4 * scale for p in paths],
                dim_inner=[inner[p] * scale for p in paths],
                temp_kernel_sizes=kernels[s - 1],
                stride=cfg.RESNET.SPATIAL_STRIDES[idx],
                num_blocks=[depths[idx]] * self.num_pathways,
                num_groups=[cfg.RESNET.NUM_GROUPS] * self.num_pathways,
                num_block_temp_kernel=cfg.RESNET.NUM_BLOCK_TEMP_KERNEL[idx],
                nonlocal_inds=cfg.NONLOCAL.LOCATION[idx],
                nonlocal_group=cfg.NONLOCAL.GROUP[idx],
                nonlocal_pool=cfg.NONLOCAL.POOL[idx],
                dilation=cfg.RESNET.SPATIAL_DILATIONS[idx],
                instantiation=cfg.NONLOCAL.INSTANTIATION,
                trans_func_name=cfg.RESNET.TRANS_FUNC,
                stride_1x1=cfg.RESNET.STRIDE_1X1,
                inplace_relu=cfg.RESNET.INPLACE_RELU,
                norm=norm,
            )
            self.add_module(f"s{s}", stage)
            if s < 5:
                self._add_fusion(cfg, s, widths)
            if s == 2:
                for p in paths:
                    pool = nn.MaxPool3d(kernel_size=pool1[p], stride=pool1[p])
                    self.add_module(f"pathway{p}_pool", pool)
        self.head = ResNetBasicHead(
            dim_in=[widths[p] * 32 for p in paths],
            num_classes=cfg.MODEL.NUM_CLASSES,
            pool_size=_head_pool_sizes(cfg, self._head_frames(cfg), pool1),
            dropout_rate=cfg.MODEL.DROPOUT_RATE,
            act_func=cfg.MODEL.HEAD_ACT,
        )

    def _fuse(self, s: int, x: list[torch.Tensor]) -> list[torch.Tensor]:
        fuse = getattr(self, f"s{s}_fuse", None)
        return x if fuse is None else fuse(x)

    def forward(self, x: list[torch.Tensor], *unused: Any) -> torch.Tensor:
        """``x``: one ``N x C x T x H x W`` tensor per pathway; returns ``N x NUM_CLASSES``."""
        x = self._fuse(1, self.s1(list(x)))
        x = self._fuse(2, self.s2(x))
        x = [getattr(self, f"pathway{p}_pool")(t) for p, t in enumerate(x)]
        x = self._fuse(3, self.s3(x))
        x = self._fuse(4, self.s4(x))
        return self.head(self.s5(x))


@MODEL_REGISTRY.register()
class ResNet(_VideoResNet):
    """Single-pathway video ResNet: MODEL.ARCH c2d, i3d, slow (and 2d, slow_c2d, slow_i3d).

    Feichtenhofer et al., "SlowFast networks for video recognition", ICCV 2019; Wang et al.,
    "Non-local neural networks", CVPR 2018.
    """

    num_pathways = 1


@MODEL_REGISTRY.register()
class ResNet_nopool(ResNet):  # noqa: N801 (PySlowFast's registered name)
    """:class:`ResNet` without the temporal max-pool after res2 (Caffe2 C2D_NOPOOL models)."""

    pool1_override = [[1, 1, 1]]


@MODEL_REGISTRY.register()
class SlowFast(_VideoResNet):
    """Two-pathway SlowFast network (MODEL.ARCH slowfast): the Fast pathway sees ALPHA times the
    frames with 1/BETA_INV of the channels and is fused into the Slow pathway after conv1 and
    res2..res4 (Feichtenhofer et al., ICCV 2019)."""

    num_pathways = 2

    def _pathway_widths(self, cfg: CfgNode) -> tuple[list[int], list[int]]:
        width, beta = cfg.RESNET.WIDTH_PER_GROUP, cfg.SLOWFAST.BETA_INV
        inner = cfg.RESNET.NUM_GROUPS * width
        if width // beta < 1:
            raise ConfigError(
                f"RESNET.WIDTH_PER_GROUP {width} / SLOWFAST.BETA_INV {beta} leaves the Fast "
                f"pathway without channels"
            )
        return [width, width // beta], [inner, inner // beta]

    def _fusion_widths(self, cfg: CfgNode, widths: list[int]) -> list[int]:
        # Channels the fusion after stage s (s1..s4) adds to the Slow pathway.
        ratio = cfg.SLOWFAST.FUSION_CONV_CHANNEL_RATIO
        fast = widths[1]
        return [0, fast * ratio] + [fast * 4 * 2**i * ratio for i in range(3)]

    def _add_fusion(self, cfg: CfgNode, stage: int, widths: list[int]) -> None:
        fast_out = widths[1] if stage == 1 else widths[1] * 4 * 2 ** (stage - 2)
        fuse = FuseFastToSlow(
            dim_in=fast_out,
            fusion_conv_channel_ratio=cfg.SLOWFAST.FUSION_CONV_CHANNEL_RATIO,
            fusion_kernel=cfg.SLOWFAST.FUSION_KERNEL_SZ,
            alpha=cfg.SLOWFAST.ALPHA,
            norm=self.norm_module,
            inplace_relu=cfg.RESNET.INPLACE_RELU,
        )
        self.add_module(f"s{stage}_fuse", fuse)

    def _head_frames(self, cfg: CfgNode) -> list[int]:
        return [cfg.DATA.NUM_FRAMES // cfg.SLOWFAST.ALPHA, cfg.DATA.NUM_FRAMES]
