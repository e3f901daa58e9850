"""X3D (Feichtenhofer, "X3D: Expanding Architectures for Efficient Video Recognition", CVPR 2020):
the cfg-free builder ``create_x3d`` and the registered model ``X3D`` (``MODEL.MODEL_NAME X3D``,
``MODEL.ARCH x3d``), whose ``from_cfg`` reads the ``X3D.*`` block.

The network is a single-pathway ResNet: a stem of a 3x3 spatial convolution and a depthwise 5x1x1
temporal one, four stages of inverted bottlenecks (1x1x1 expansion, depthwise 3x3x3, 1x1x1
projection) with squeeze-excite on every other block and swish inside, and a head that widens the
features (``conv_5``, ``lin_5``) around the global pool. Module names and shapes are PySlowFast's
(``s1.pathway0_stem.conv_xy``, ``s2.pathway0_res0.branch2.se.fc1``, ``head.lin_5``), so its
checkpoints load strictly. Unlike PySlowFast's head, whose pool window is fixed from the config's
crop and frames, ``head_pool_size=None`` pools over whatever grid arrives: every multigrid shape
trains.

The module is longer than the ~350-line rule because it holds one model whole: its blocks,
stem and head exist for X3D only, and the cfg reader sits beside the builder it feeds.
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
from slowfast.models.head_helper import average_pool, classify_positions, head_activation
from slowfast.models.layers import Conv3d, conv_norm
from slowfast.models.norm import NormFactory, get_norm
from slowfast.models.resnet_helper import TRANS_FUNC_REGISTRY, ResStage, TransFunc
from slowfast.models.stem_helper import VideoModelStem
from slowfast.models.weight_init import init_weights, mark_final_norm

# Blocks per stage (res2..res5) before DEPTH_FACTOR, and the widening from one stage to the next.
X3D_BLOCKS = (1, 2, 5, 3)
STAGE_EXPANSION = 2.0


def round_width(width: float, multiplier: float, min_width: int = 1, divisor: int = 1) -> int:
    """``width * multiplier`` rounded to a multiple of ``divisor`` (at least ``min_width``), and
    one ``divisor`` more when rounding lost over 10%: the X3D / EfficientNet width rule."""
    if not multiplier:
        return int(width)
    width = width * multiplier
    min_width = min_width or divisor
    out = max(min_width, int(width + divisor / 2) // divisor * divisor)
    if out < 0.9 * width:
        out += divisor
    return int(out)


def round_repeats(repeats: int, multiplier: float) -> int:
    """Blocks of a stage after the depth multiplier (rounded up)."""
    return int(math.ceil(multiplier * repeats)) if multiplier else repeats


class Swish(nn.Module):
    """``x * sigmoid(x)``, computed as written (as PySlowFast's X3D does; ``nn.SiLU``'s fused
    kernel differs from it in the last bits, which a deep X3D in training mode amplifies)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class SqueezeExcite(nn.Module):
    """Channel gating: global average pool, 1x1x1 conv down to ``ratio`` of the width (rounded
    to a multiple of 8), ReLU, 1x1x1 conv back, sigmoid, times the input."""

    def __init__(self, dim_in: int, ratio: float) -> None:
        super().__init__()
        dim_fc = round_width(dim_in, ratio, min_width=8, divisor=8)
        self.avg_pool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc1 = nn.Conv3d(dim_in, dim_fc, 1, bias=True)
        self.fc1_act = nn.ReLU()
        self.fc2 = nn.Conv3d(dim_fc, dim_in, 1, bias=True)
        self.fc2_sig = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.fc2_sig(self.fc2(self.fc1_act(self.fc1(self.avg_pool(x)))))
        return x * scale


class X3DTransform(nn.Module):
    """X3D's residual branch: 1x1x1 (a), T x 3 x 3 grouped (b, depthwise in X3D, strided),
    squeeze-excite on even ``block_idx`` (when ``se_ratio`` > 0), swish, 1x1x1 (c)."""

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        temp_kernel_size: int,
        stride: int,
        dim_inner: int,
        num_groups: int,
        stride_1x1: bool = False,
        inplace_relu: bool = True,
        dilation: int = 1,
        norm: NormFactory,
        block_idx: int = 0,
        se_ratio: float = 0.0625,
        swish_inner: bool = True,
    ) -> None:
        super().__init__()
        str1x1, str3x3 = (stride, 1) if stride_1x1 else (1, stride)
        self.a, self.a_bn = conv_norm(dim_in, dim_inner, 1, norm, stride=[1, str1x1, str1x1])
        self.a_relu = nn.ReLU(inplace_relu)
        self.b, self.b_bn = conv_norm(
            dim_inner,
            dim_inner,
            [temp_kernel_size, 3, 3],
            norm,
            stride=[1, str3x3, str3x3],
            spatial_dilation=dilation,
            groups=num_groups,
        )
        if se_ratio > 0.0 and block_idx % 2 == 0:
            self.se = SqueezeExcite(dim_inner, se_ratio)
        self.b_relu = Swish() if swish_inner else nn.ReLU(inplace_relu)
        self.c, c_bn = conv_norm(dim_inner, dim_out, 1, norm)
        self.c_bn = mark_final_norm(c_bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.a_relu(self.a_bn(self.a(x)))
        x = self.b_bn(self.b(x))
        if hasattr(self, "se"):
            x = self.se(x)
        return self.c_bn(self.c(self.b_relu(x)))


@TRANS_FUNC_REGISTRY.register()
def x3d_transform(**kwargs: Any) -> nn.Module:
    """``RESNET.TRANS_FUNC x3d_transform``: :class:`X3DTransform`."""
    return X3DTransform(**kwargs)


class X3DStem(nn.Module):
    """1 x 3 x 3 convolution (stride 1 x 2 x 2, ``conv_xy``), depthwise T x 1 x 1 (``conv``),
    norm, ReLU; no pooling."""

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        kernel: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int],
        norm: NormFactory,
        inplace_relu: bool = True,
    ) -> None:
        super().__init__()
        self.conv_xy = Conv3d(
            dim_in,
            dim_out,
            [1, kernel[1], kernel[2]],
            stride=[1, stride[1], stride[2]],
            padding=[0, padding[1], padding[2]],
            bias=False,
        )
        self.conv, self.bn = conv_norm(
            dim_out,
            dim_out,
            [kernel[0], 1, 1],
            norm,
            stride=[stride[0], 1, 1],
            padding=[padding[0], 0, 0],
            groups=dim_out,
        )
        self.relu = nn.ReLU(inplace_relu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(self.conv_xy(x))))


class X3DHead(nn.Module):
    """1x1x1 conv to ``dim_inner`` + norm + ReLU (``conv_5``), average pool, 1x1x1 conv to
    ``dim_out`` (``lin_5``, optionally normed) + ReLU, dropout, linear classifier.

    ``pool_size`` None pools globally (any input shape); a fixed window (PySlowFast's) larger
    than the feature map is clipped to it, and a smaller one leaves several positions whose
    scores (after the activation outside training) are averaged.
    """

    def __init__(
        self,
        *,
        dim_in: int,
        dim_inner: int,
        dim_out: int,
        num_classes: int,
        pool_size: Sequence[int] | None,
        norm: NormFactory,
        dropout_rate: float = 0.0,
        act_func: str = "softmax",
        inplace_relu: bool = True,
        bn_lin5: bool = False,
    ) -> None:
        super().__init__()
        self.conv_5, self.conv_5_bn = conv_norm(dim_in, dim_inner, 1, norm)
        self.conv_5_relu = nn.ReLU(inplace_relu)
        self.pool_size = None if pool_size is None else tuple(pool_size)
        self.lin_5 = nn.Conv3d(dim_inner, dim_out, 1, bias=False)
        if bn_lin5:
            self.lin_5_bn = norm(dim_out)
        self.lin_5_relu = nn.ReLU(inplace_relu)
        if dropout_rate > 0.0:
            self.dropout = nn.Dropout(dropout_rate)
        self.projection = nn.Linear(dim_out, num_classes, bias=True)
        self.act = head_activation(act_func, dim=4)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        if len(inputs) != 1:
            raise ValueError(f"X3D's head takes one pathway, got {len(inputs)} tensors")
        x = self.conv_5_relu(self.conv_5_bn(self.conv_5(inputs[0])))
        x = self.lin_5(average_pool(x, self.pool_size))
        if hasattr(self, "lin_5_bn"):
            x = self.lin_5_bn(x)
        x = self.lin_5_relu(x).permute(0, 2, 3, 4, 1)  # N x T x H x W x C
        return classify_positions(self, x)


def x3d_widths(
    dim_c1: int, width_factor: float, bottleneck_factor: float, scale_res2: bool
) -> tuple[int, list[int], list[int]]:
    """conv1's width and each stage's output and inner widths."""
    res2 = round_width(dim_c1, STAGE_EXPANSION, divisor=8) if scale_res2 else dim_c1
    bases = [res2]
    for _ in range(3):
        bases.append(round_width(bases[-1], STAGE_EXPANSION, divisor=8))
    outs = [round_width(b, width_factor) for b in bases]
    return round_width(dim_c1, width_factor), outs, [int(bottleneck_factor * o) for o in outs]


@MODEL_REGISTRY.register()
class X3D(nn.Module):
    """X3D (:func:`create_x3d`): stem ``s1``, stages ``s2``..``s5``, ``head``."""

    def __init__(self, *, stem: nn.Module, stages: Sequence[nn.Module], head: nn.Module) -> None:
        super().__init__()
        self.s1 = stem
        for s, stage in enumerate(stages, start=2):
            self.add_module(f"s{s}", stage)
        self.head = head

    def forward(self, x: list[torch.Tensor], *unused: Any) -> torch.Tensor:
        """``x``: a one-element list holding an ``N x C x T x H x W`` clip."""
        x = self.s1(list(x))
        for s in range(2, 6):
            x = getattr(self, f"s{s}")(x)
        return self.head(x)

    @classmethod
    def from_cfg(cls, cfg: CfgNode) -> X3D:
        """:func:`create_x3d` with the arguments ``cfg`` gives (X3D.*, RESNET.*, BN.*, MODEL.*)."""
        return create_x3d(**x3d_kwargs(cfg), model_class=cls)


def create_x3d(
    *,
    input_channels: int = 3,
    num_classes: int = 400,
    dim_c1: int = 12,
    width_factor: float = 1.0,
    depth_factor: float = 1.0,
    bottleneck_factor: float = 1.0,
    dim_c5: int = 2048,
    scale_res2: bool = False,
    bn_lin5: bool = False,
    channelwise_3x3x3: bool = True,
    num_groups: int = 1,
    stem_temporal_kernel: int = 5,
    temporal_kernel: int = 3,
    spatial_dilations: Sequence[int] = (1, 1, 1, 1),
    trans_func: str | TransFunc = "x3d_transform",
    stride_1x1: bool = False,
    inplace_relu: bool = True,
    se_ratio: float = 0.0625,
    drop_connect_rate: float = 0.0,
    norm: NormFactory = nn.BatchNorm3d,
    head_pool_size: Sequence[int] | None = None,
    dropout_rate: float = 0.5,
    head_act: str = "softmax",
    fc_init_std: float = 0.01,
    zero_init_final_bn: bool = True,
    model_class: type[X3D] = X3D,
) -> X3D:
    """An X3D network. X3D-XS/S: ``width_factor=2, depth_factor=2.2, bottleneck_factor=2.25``
    (at 4 / 13 frames); M the same at 16 frames; L ``depth_factor=5``. Stage ``k`` (0..3) has
    ``ceil(depth_factor x [1, 2, 5, 3][k])`` blocks, all with temporal kernel ``temporal_kernel``,
    the first strided 2x spatially; stage ``k`` drops its blocks' branches with probability
    ``drop_connect_rate * (k + 2) / 5`` in training. ``head_pool_size`` None pools globally."""
    stem_width, outs, inners = x3d_widths(dim_c1, width_factor, bottleneck_factor, scale_res2)
    stem = VideoModelStem(
        dim_in=[input_channels],
        dim_out=[stem_width],
        kernel=[[stem_temporal_kernel, 3, 3]],
        stride=[[1, 2, 2]],
        padding=[[stem_temporal_kernel // 2, 1, 1]],
        norm=norm,
        inplace_relu=inplace_relu,
        stem=X3DStem,
    )
    is_x3d = trans_func in ("x3d_transform", x3d_transform)
    transform_options = {"se_ratio": se_ratio} if is_x3d else {}
    stages, dim_in = [], stem_width
    for k, (blocks, out, inner) in enumerate(zip(X3D_BLOCKS, outs, inners)):
        n = round_repeats(blocks, depth_factor)
        stages.append(
            ResStage(
                dim_in=[dim_in],
                dim_out=[out],
                dim_inner=[inner],
                temp_kernel_sizes=[[temporal_kernel]],
                stride=[2],
                num_blocks=[n],
                num_groups=[inner if channelwise_3x3x3 else num_groups],
                num_block_temp_kernel=[n],
                nonlocal_inds=[[]],
                nonlocal_group=[1],
                nonlocal_pool=[[1, 1, 1]],
                dilation=[spatial_dilations[k]],
                trans_func=trans_func,
                stride_1x1=stride_1x1,
                inplace_relu=inplace_relu,
                norm=norm,
                drop_connect_rate=drop_connect_rate * (k + 2) / (len(X3D_BLOCKS) + 1),
                transform_options=transform_options,
            )
        )
        dim_in = out
    head = X3DHead(
        dim_in=dim_in,
        dim_inner=inners[-1],
        dim_out=dim_c5,
        num_classes=num_classes,
        pool_size=head_pool_size,
        norm=norm,
        dropout_rate=dropout_rate,
        act_func=head_act,
        inplace_relu=inplace_relu,
        bn_lin5=bn_lin5,
    )
    model = model_class(stem=stem, stages=stages, head=head)
    init_weights(model, fc_init_std, zero_init_final_bn)
    return model


def x3d_kwargs(cfg: CfgNode) -> dict[str, Any]:
    """``create_x3d``'s arguments for ``cfg``: X3D.*, and RESNET.* / MODEL.* / BN.* as PySlowFast
    reads them for X3D. The head pools globally under multigrid, else over PySlowFast's window
    (NUM_FRAMES x ceil(TRAIN_CROP_SIZE / 32)^2)."""
    if cfg.MODEL.ARCH != "x3d":
        raise ConfigError(f"MODEL.ARCH: X3D needs 'x3d', got {cfg.MODEL.ARCH!r}")
    if len(cfg.DATA.INPUT_CHANNEL_NUM) != 1:
        raise ConfigError(
            f"DATA.INPUT_CHANNEL_NUM: X3D has one pathway, got {list(cfg.DATA.INPUT_CHANNEL_NUM)}"
        )
    if any(stage[0] for stage in cfg.NONLOCAL.LOCATION):
        raise ConfigError("NONLOCAL.LOCATION: X3D has no non-local blocks; leave it empty")
    multigrid = cfg.MULTIGRID.SHORT_CYCLE or cfg.MULTIGRID.LONG_CYCLE
    side = int(math.ceil(cfg.DATA.TRAIN_CROP_SIZE / 32.0))
    x3d = cfg.X3D
    return {
        "input_channels": cfg.DATA.INPUT_CHANNEL_NUM[0],
        "num_classes": cfg.MODEL.NUM_CLASSES,
        "dim_c1": x3d.DIM_C1,
        "width_factor": x3d.WIDTH_FACTOR,
        "depth_factor": x3d.DEPTH_FACTOR,
        "bottleneck_factor": x3d.BOTTLENECK_FACTOR,
        "dim_c5": x3d.DIM_C5,
        "scale_res2": x3d.SCALE_RES2,
        "bn_lin5": x3d.BN_LIN5,
        "channelwise_3x3x3": x3d.CHANNELWISE_3x3x3,
        "num_groups": cfg.RESNET.NUM_GROUPS,
        "spatial_dilations": [stage[0] for stage in cfg.RESNET.SPATIAL_DILATIONS],
        "trans_func": cfg.RESNET.TRANS_FUNC,
        "stride_1x1": cfg.RESNET.STRIDE_1X1,
        "inplace_relu": cfg.RESNET.INPLACE_RELU,
        "drop_connect_rate": cfg.MODEL.DROPCONNECT_RATE,
        "norm": get_norm(cfg),
        "head_pool_size": None if multigrid else [cfg.DATA.NUM_FRAMES, side, side],
        "dropout_rate": cfg.MODEL.DROPOUT_RATE,
        "head_act": cfg.MODEL.HEAD_ACT,
        "fc_init_std": cfg.MODEL.FC_INIT_STD,
        "zero_init_final_bn": cfg.RESNET.ZERO_INIT_FINAL_BN,
    }
