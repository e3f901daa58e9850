"""Residual transforms (and their registry), blocks and stages of the 3-D ResNets (C2D, I3D,
Slow, SlowFast).

A stage holds one chain of blocks per pathway (``pathway{p}_res{i}``), optionally followed by a
non-local block (``pathway{p}_nonlocal{i}``); names and shapes are PySlowFast's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn as nn

from slowfast.models.layers import conv_norm, drop_path
from slowfast.models.nonlocal_helper import Nonlocal
from slowfast.models.norm import NormFactory
from slowfast.models.weight_init import mark_final_norm
from slowfast.utils.registry import Registry

# Blocks per stage (res2..res5) for each ResNet depth.
STAGE_DEPTH: dict[int, tuple[int, int, int, int]] = {
    18: (2, 2, 2, 2),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
}

TRANS_FUNC_REGISTRY = Registry("TRANS_FUNC")
TRANS_FUNC_REGISTRY.__doc__ = """Residual transforms by ``RESNET.TRANS_FUNC`` value (their names).

Contract: an entry is a callable registered under its ``__name__`` (the cfg value) and called with
the keyword arguments ``dim_in, dim_out, temp_kernel_size, stride, dim_inner, num_groups,
stride_1x1, inplace_relu, dilation, norm`` (a norm factory) and ``block_idx`` (the block's index in
its stage, as PySlowFast passes it: X3D puts squeeze-excite on every other block); it returns the
residual branch
(``branch2``), mapping ``N x dim_in x T x H x W`` to ``N x dim_out x T x H/stride x W/stride``,
with its last norm tagged by ``mark_final_norm`` so that ``ZERO_INIT_FINAL_BN`` finds it.
"""


class BottleneckTransform(nn.Module):
    """T x 1 x 1 (a), 1 x 3 x 3 (b, grouped, strided unless ``stride_1x1``), 1 x 1 x 1 (c)."""

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        temp_kernel_size: int,
        stride: int,
        dim_inner: int,
        num_groups: int = 1,
        stride_1x1: bool = False,
        inplace_relu: bool = True,
        dilation: int = 1,
        norm: NormFactory,
        block_idx: int = 0,
    ) -> None:
        super().__init__()
        str1x1, str3x3 = (stride, 1) if stride_1x1 else (1, stride)
        t = temp_kernel_size
        self.a, self.a_bn = conv_norm(
            dim_in, dim_inner, [t, 1, 1], norm, stride=[1, str1x1, str1x1]
        )
        self.a_relu = nn.ReLU(inplace_relu)
        self.b, self.b_bn = conv_norm(
            dim_inner,
            dim_inner,
            [1, 3, 3],
            norm,
            stride=[1, str3x3, str3x3],
            spatial_dilation=dilation,
            groups=num_groups,
        )
        self.b_relu = nn.ReLU(inplace_relu)
        self.c, c_bn = conv_norm(dim_inner, dim_out, 1, norm)
        self.c_bn = mark_final_norm(c_bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.a_relu(self.a_bn(self.a(x)))
        x = self.b_relu(self.b_bn(self.b(x)))
        return self.c_bn(self.c(x))


class BasicTransform(nn.Module):
    """T x 3 x 3 (a, strided), 1 x 3 x 3 (b); ``dim_inner``, ``num_groups`` and ``stride_1x1``
    (the bottleneck's arguments) are accepted and ignored."""

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        norm: NormFactory,
        temp_kernel_size: int,
        stride: int,
        inplace_relu: bool = True,
        dilation: int = 1,
        **ignored: Any,
    ) -> None:
        super().__init__()
        t = temp_kernel_size
        self.a, self.a_bn = conv_norm(dim_in, dim_out, [t, 3, 3], norm, stride=[1, stride, stride])
        self.a_relu = nn.ReLU(inplace_relu)
        self.b, b_bn = conv_norm(dim_out, dim_out, [1, 3, 3], norm, spatial_dilation=dilation)
        self.b_bn = mark_final_norm(b_bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b_bn(self.b(self.a_relu(self.a_bn(self.a(x)))))


@TRANS_FUNC_REGISTRY.register()
def bottleneck_transform(**kwargs: Any) -> nn.Module:
    """``RESNET.TRANS_FUNC bottleneck_transform``: :class:`BottleneckTransform`."""
    return BottleneckTransform(**kwargs)


@TRANS_FUNC_REGISTRY.register()
def basic_transform(**kwargs: Any) -> nn.Module:
    """``RESNET.TRANS_FUNC basic_transform``: :class:`BasicTransform`."""
    return BasicTransform(**kwargs)


TransFunc = Callable[..., nn.Module]


def get_trans_func(name: str) -> TransFunc:
    """The residual transform registered under ``RESNET.TRANS_FUNC`` = ``name``."""
    if name not in TRANS_FUNC_REGISTRY:
        names = sorted(entry for entry, _ in TRANS_FUNC_REGISTRY)
        raise ValueError(f"RESNET.TRANS_FUNC must be one of {names}, got {name!r}")
    return TRANS_FUNC_REGISTRY.get(name)


class ResBlock(nn.Module):
    """``relu(shortcut(x) + branch2(x))``; the shortcut is a strided 1x1x1 conv + norm
    (``branch1``, ``branch1_bn``) when the width or resolution changes, else the identity.
    ``branch2`` is ``trans_func(dim_in=..., dim_out=..., stride=..., inplace_relu=..., norm=...,
    **transform_options)`` (the :data:`TRANS_FUNC_REGISTRY` contract). ``drop_connect_rate`` > 0
    drops ``branch2`` per sample in training (stochastic depth; X3D's MODEL.DROPCONNECT_RATE)."""

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        stride: int,
        trans_func: TransFunc,
        inplace_relu: bool = True,
        norm: NormFactory,
        drop_connect_rate: float = 0.0,
        **transform_options: Any,
    ) -> None:
        super().__init__()
        self.drop_connect_rate = drop_connect_rate
        if dim_in != dim_out or stride != 1:
            self.branch1, self.branch1_bn = conv_norm(
                dim_in, dim_out, 1, norm, stride=[1, stride, stride]
            )
        self.branch2 = trans_func(
            dim_in=dim_in,
            dim_out=dim_out,
            stride=stride,
            inplace_relu=inplace_relu,
            norm=norm,
            **transform_options,
        )
        self.relu = nn.ReLU(inplace_relu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = drop_path(self.branch2(x), self.drop_connect_rate, self.training)
        if hasattr(self, "branch1"):
            x = self.branch1_bn(self.branch1(x))
        return self.relu(x + residual)


def block_temporal_kernels(basis: Sequence[int], num_blocks: int, num_temp: int) -> list[int]:
    """Temporal kernel of each block: ``basis`` cycled over the first ``num_temp`` blocks, 1 after.

    E.g. basis [3, 1], 4 blocks, all temporal: [3, 1, 3, 1]; basis [3], 6 blocks, 4: [3, 3, 3, 3,
    1, 1] (``RESNET.NUM_BLOCK_TEMP_KERNEL``).
    """
    if not 0 <= num_temp <= num_blocks:
        raise ValueError(
            f"RESNET.NUM_BLOCK_TEMP_KERNEL entry {num_temp} must be in [0, {num_blocks}] "
            f"(the number of blocks of the stage)"
        )
    cycled = [basis[i % len(basis)] for i in range(num_temp)]
    return cycled + [1] * (num_blocks - num_temp)


class ResStage(nn.Module):
    """One ResNet stage over ``len(dim_in)`` pathways; every argument is a per-pathway list
    (except ``instantiation``, ``trans_func``, ``stride_1x1``, ``inplace_relu``, ``norm``,
    ``drop_connect_rate`` and ``transform_options``, extra keyword arguments of every transform).
    ``trans_func`` is a :data:`TRANS_FUNC_REGISTRY` name or an entry itself.

    ``nonlocal_inds[p]`` lists the blocks followed by a non-local block; ``nonlocal_group[p] > 1``
    runs that block on ``group`` temporal chunks independently.
    """

    def __init__(
        self,
        *,
        dim_in: Sequence[int],
        dim_out: Sequence[int],
        dim_inner: Sequence[int],
        temp_kernel_sizes: Sequence[Sequence[int]],
        stride: Sequence[int],
        num_blocks: Sequence[int],
        num_groups: Sequence[int],
        num_block_temp_kernel: Sequence[int],
        nonlocal_inds: Sequence[Sequence[int]],
        nonlocal_group: Sequence[int],
        nonlocal_pool: Sequence[Sequence[int]],
        dilation: Sequence[int],
        instantiation: str = "softmax",
        trans_func: str | TransFunc = "bottleneck_transform",
        stride_1x1: bool = False,
        inplace_relu: bool = True,
        norm: NormFactory,
        drop_connect_rate: float = 0.0,
        transform_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.num_pathways = len(dim_in)
        self.num_blocks = list(num_blocks)
        self.nonlocal_group = list(nonlocal_group)
        if isinstance(trans_func, str):
            trans_func = get_trans_func(trans_func)
        for p in range(self.num_pathways):
            kernels = block_temporal_kernels(
                temp_kernel_sizes[p], num_blocks[p], num_block_temp_kernel[p]
            )
            for i in range(num_blocks[p]):
                block = ResBlock(
                    dim_in=dim_in[p] if i == 0 else dim_out[p],
                    dim_out=dim_out[p],
                    temp_kernel_size=kernels[i],
                    stride=stride[p] if i == 0 else 1,
                    trans_func=trans_func,
                    dim_inner=dim_inner[p],
                    num_groups=num_groups[p],
                    stride_1x1=stride_1x1,
                    inplace_relu=inplace_relu,
                    dilation=dilation[p],
                    norm=norm,
                    block_idx=i,
                    drop_connect_rate=drop_connect_rate,
                    **(transform_options or {}),
                )
                self.add_module(f"pathway{p}_res{i}", block)
                if i in nonlocal_inds[p]:
                    nonlocal_block = Nonlocal(
                        dim=dim_out[p],
                        dim_inner=dim_out[p] // 2,
                        pool_size=nonlocal_pool[p],
                        instantiation=instantiation,
                        norm=norm,
                    )
                    self.add_module(f"pathway{p}_nonlocal{i}", nonlocal_block)

    def _nonlocal(self, p: int, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        groups = self.nonlocal_group[p]
        if groups == 1:
            return block(x)
        n, c, t, h, w = x.shape
        if t % groups:
            raise ValueError(f"NONLOCAL.GROUP {groups} does not divide the {t} frames here")
        # N x C x T x H x W -> (N * G) x C x (T / G) x H x W, each chunk of frames on its own.
        x = x.transpose(1, 2).reshape(n * groups, t // groups, c, h, w).transpose(1, 2)
        x = block(x)
        return x.transpose(1, 2).reshape(n, t, c, h, w).transpose(1, 2)

    def forward(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        outputs = []
        for p in range(self.num_pathways):
            x = inputs[p]
            for i in range(self.num_blocks[p]):
                x = getattr(self, f"pathway{p}_res{i}")(x)
                nonlocal_block = getattr(self, f"pathway{p}_nonlocal{i}", None)
                if nonlocal_block is not None:
                    x = self._nonlocal(p, nonlocal_block, x)
            outputs.append(x)
        return outputs
