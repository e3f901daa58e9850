"""The classification head of the ResNets (PySlowFast's ResNetBasicHead semantics)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

HEAD_ACTS = ("softmax", "sigmoid", "none")


class ResNetBasicHead(nn.Module):
    """Average-pool each pathway, concatenate, dropout, and a linear layer over channels.

    With a fixed ``pool_size`` (stride 1) a larger test input leaves several positions; the
    linear layer then runs at every position (fully convolutional). A pathway whose
    ``pool_size`` is None pools adaptively to one position, so any input shape works (multigrid).
    Outside training the activation is applied per position and the positions are averaged;
    in training several positions' logits are averaged. The output is ``N x num_classes``.
    A fixed pool window larger than the feature map is clipped to it.
    """

    def __init__(
        self,
        *,
        dim_in: Sequence[int],
        num_classes: int,
        pool_size: Sequence[Sequence[int] | None],
        dropout_rate: float = 0.0,
        act_func: str = "softmax",
    ) -> None:
        super().__init__()
        if len(dim_in) != len(pool_size):
            raise ValueError(f"head: {len(dim_in)} pathway widths but {len(pool_size)} pool sizes")
        if act_func not in HEAD_ACTS:
            raise ValueError(f"MODEL.HEAD_ACT must be one of {HEAD_ACTS}, got {act_func!r}")
        self.num_pathways = len(dim_in)
        for p, size in enumerate(pool_size):
            pool = (
                nn.AdaptiveAvgPool3d((1, 1, 1))
                if size is None
                else nn.AvgPool3d(list(size), stride=1)
            )
            self.add_module(f"pathway{p}_avgpool", pool)
        if dropout_rate > 0.0:
            self.dropout = nn.Dropout(dropout_rate)
        self.projection = nn.Linear(sum(dim_in), num_classes, bias=True)
        if act_func == "softmax":
            self.act: nn.Module | None = nn.Softmax(dim=4)
        elif act_func == "sigmoid":
            self.act = nn.Sigmoid()
        else:
            self.act = None

    @staticmethod
    def _pool(pool: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if isinstance(pool, nn.AvgPool3d):
            window = tuple(min(k, s) for k, s in zip(pool.kernel_size, x.shape[2:]))
            if window != tuple(pool.kernel_size):
                return F.avg_pool3d(x, window, stride=1)
        return pool(x)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        if len(inputs) != self.num_pathways:
            raise ValueError(
                f"head expects {self.num_pathways} pathway(s), got {len(inputs)} tensor(s)"
            )
        pooled = [self._pool(getattr(self, f"pathway{p}_avgpool"), x) for p, x in enumerate(inputs)]
        x = torch.cat(pooled, 1).permute(0, 2, 3, 4, 1)  # N x T x H x W x C
        if hasattr(self, "dropout"):
            x = self.dropout(x)
        x = self.projection(x)
        if not self.training and self.act is not None:
            x = self.act(x)
        if x.shape[1:4] != (1, 1, 1):
            x = x.mean(dim=(1, 2, 3))
        return x.reshape(x.shape[0], -1)
