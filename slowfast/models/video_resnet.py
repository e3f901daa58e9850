"""The container of the video ResNets and the SlowFast lateral connection.

:class:`VideoResNet` holds built blocks under PySlowFast's module names (``s1``..``s5``,
``s{n}_fuse``, ``pathway{p}_pool``, ``head``) and runs them; the builders in
:mod:`slowfast.models.video_model_builder` make the blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn as nn

from slowfast.models.layers import conv_norm
from slowfast.models.norm import NormFactory


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
        self.conv_f2s, self.bn = conv_norm(
            dim_in,
            dim_in * fusion_conv_channel_ratio,
            [fusion_kernel, 1, 1],
            norm,
            stride=[alpha, 1, 1],
        )
        self.relu = nn.ReLU(inplace_relu)

    @property
    def out_channels(self) -> int:
        """Channels this fusion adds to the Slow pathway."""
        return self.conv_f2s.out_channels

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        slow, fast = x
        fused = self.relu(self.bn(self.conv_f2s(fast)))
        return [torch.cat([slow, fused], 1), fast]


class VideoResNet(nn.Module):
    """A video ResNet from its blocks: stem ``s1``, stages ``s2``..``s5``, a max pool per pathway
    after ``s2`` (``pathway{p}_pool``) and ``head``; ``fusions[i]`` (if not None) runs after
    stage ``i + 1`` as ``s{i+1}_fuse``. Submodules are registered in PySlowFast's order."""

    def __init__(
        self,
        *,
        stem: nn.Module,
        stages: Sequence[nn.Module],
        pools: Sequence[nn.Module],
        head: nn.Module,
        fusions: Sequence[nn.Module | None] = (None, None, None, None),
    ) -> None:
        super().__init__()
        if len(stages) != 4 or len(fusions) != 4:
            raise ValueError(f"{len(stages)} stages, {len(fusions)} fusions: 4 of each expected")
        self.s1 = stem
        for s, stage in enumerate([None, *stages], start=1):
            if stage is not None:
                self.add_module(f"s{s}", stage)
            if s < 5 and fusions[s - 1] is not None:
                self.add_module(f"s{s}_fuse", fusions[s - 1])
            if s == 2:
                for p, pool in enumerate(pools):
                    self.add_module(f"pathway{p}_pool", pool)
        self.head = head

    def _fuse(self, s: int, x: list[torch.Tensor]) -> list[torch.Tensor]:
        fuse = getattr(self, f"s{s}_fuse", None)
        return x if fuse is None else fuse(x)

    def forward(self, x: list[torch.Tensor], *unused: Any) -> torch.Tensor:
        """``x``: one ``N x C x T x H x W`` tensor per pathway; returns ``N x num_classes``."""
        x = self._fuse(1, self.s1(list(x)))
        x = self._fuse(2, self.s2(x))
        x = [getattr(self, f"pathway{p}_pool")(t) for p, t in enumerate(x)]
        x = self._fuse(3, self.s3(x))
        x = self._fuse(4, self.s4(x))
        return self.head(self.s5(x))
