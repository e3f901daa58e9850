"""The ResNet stem (conv1: T x 7 x 7, stride 1 x 2 x 2, norm, ReLU, 1 x 3 x 3 max pool) and the
per-pathway container of stems."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn as nn

from slowfast.models.layers import conv_norm
from slowfast.models.norm import NormFactory


class ResNetBasicStem(nn.Module):
    """conv -> norm -> ReLU -> max pool (1 x 3 x 3, stride 1 x 2 x 2) on one pathway."""

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
        self.conv, self.bn = conv_norm(
            dim_in, dim_out, list(kernel), norm, stride=list(stride), padding=list(padding)
        )
        self.relu = nn.ReLU(inplace_relu)
        self.pool_layer = nn.MaxPool3d(kernel_size=[1, 3, 3], stride=[1, 2, 2], padding=[0, 1, 1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool_layer(self.relu(self.bn(self.conv(x))))


class VideoModelStem(nn.Module):
    """One stem per pathway (``pathway{i}_stem``), a :class:`ResNetBasicStem` unless ``stem``
    names another class with its keyword arguments (X3D's); maps a list to a list."""

    def __init__(
        self,
        *,
        dim_in: Sequence[int],
        dim_out: Sequence[int],
        kernel: Sequence[Sequence[int]],
        stride: Sequence[Sequence[int]],
        padding: Sequence[Sequence[int]],
        norm: NormFactory,
        inplace_relu: bool = True,
        stem: Callable[..., nn.Module] = ResNetBasicStem,
    ) -> None:
        super().__init__()
        sizes = {len(dim_in), len(dim_out), len(kernel), len(stride), len(padding)}
        if len(sizes) != 1:
            raise ValueError(f"VideoModelStem: per-pathway arguments differ in length: {sizes}")
        self.num_pathways = len(dim_in)
        for p in range(self.num_pathways):
            block = stem(
                dim_in=dim_in[p],
                dim_out=dim_out[p],
                kernel=kernel[p],
                stride=stride[p],
                padding=padding[p],
                norm=norm,
                inplace_relu=inplace_relu,
            )
            self.add_module(f"pathway{p}_stem", block)

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        if len(x) != self.num_pathways:
            raise ValueError(
                f"expected {self.num_pathways} input pathway(s), got {len(x)} tensor(s)"
            )
        return [getattr(self, f"pathway{p}_stem")(t) for p, t in enumerate(x)]
