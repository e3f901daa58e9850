"""The classification head of the ResNets (PySlowFast's ResNetBasicHead semantics)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

HEAD_ACTS = ("softmax", "sigmoid", "none")


def head_activation(act_func: str, dim: int) -> nn.Module | None:
    """The activation a head applies outside training (``MODEL.HEAD_ACT``); softmax over
    ``dim``, the class axis."""
    if act_func not in HEAD_ACTS:
        raise ValueError(f"MODEL.HEAD_ACT must be one of {HEAD_ACTS}, got {act_func!r}")
    return {"softmax": nn.Softmax(dim=dim), "sigmoid": nn.Sigmoid(), "none": None}[act_func]


def average_pool(x: torch.Tensor, window: Sequence[int] | None) -> torch.Tensor:
    """Average over ``window`` (stride 1; clipped to the feature map), or globally when None."""
    if window is None:
        return F.adaptive_avg_pool3d(x, 1)
    clipped = tuple(min(k, s) for k, s in zip(window, x.shape[2:]))
    return F.avg_pool3d(x, clipped, stride=1)


def classify_positions(head: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``N x T x H x W x C`` features through ``head``'s optional ``dropout``, its
    ``projection`` and, outside training, its ``act``; several positions are averaged. Returns
    ``N x num_classes``."""
    if hasattr(head, "dropout"):
        x = head.dropout(x)
    x = head.projection(x)
    if not head.training and head.act is not None:
        x = head.act(x)
    if x.shape[1:4] != (1, 1, 1):
        x = x.mean(dim=(1, 2, 3))
    return x.reshape(x.shape[0], -1)


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
        self.act = head_activation(act_func, dim=4)

    @staticmethod
    def _pool(pool: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if isinstance(pool, nn.AvgPool3d):
            return average_pool(x, pool.kernel_size)
        return pool(x)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        if len(inputs) != self.num_pathways:
            raise ValueError(
                f"head expects {self.num_pathways} pathway(s), got {len(inputs)} tensor(s)"
            )
        pooled = [self._pool(getattr(self, f"pathway{p}_avgpool"), x) for p, x in enumerate(inputs)]
        x = torch.cat(pooled, 1).permute(0, 2, 3, 4, 1)  # N x T x H x W x C
        return classify_positions(self, x)
