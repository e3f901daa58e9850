"""Layers the video models share: :class:`Conv3d`, the conv + norm pair every block uses and
stochastic depth (:func:`drop_path`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn as nn

IntOr3 = int | Sequence[int]


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` that leaves CPU autocast for float32 when its temporal kernel is longer than
    the clip it is given.

    With PyTorch 2.13's oneDNN, the bfloat16 weight gradient of such a convolution comes out
    inf/NaN or far off (e.g. kernel 3 over 2 frames, kernel 5 over 2-4 frames), which multigrid's
    few-frame shapes hit in the Fast pathway's stem and fusion convolutions. Everything else about
    it (parameters, names, initialisation) is ``nn.Conv3d``'s.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            x.device.type == "cpu"
            and x.shape[2] < self.kernel_size[0]
            and torch.is_autocast_enabled("cpu")
        ):
            with torch.autocast("cpu", enabled=False):
                return super().forward(x.float())
        return super().forward(x)


def conv_norm(
    dim_in: int,
    dim_out: int,
    kernel_size: IntOr3,
    norm: Callable[[int], nn.Module],
    *,
    stride: IntOr3 = 1,
    padding: IntOr3 | None = None,
    spatial_dilation: int = 1,
    groups: int = 1,
) -> tuple[Conv3d, nn.Module]:
    """A bias-free :class:`Conv3d` and the norm layer ``norm(dim_out)`` that follows it.

    ``padding`` defaults to half the (spatially dilated) kernel, which keeps an odd kernel's
    output the input's size at stride 1, as every block of the ResNets pads.
    """
    kernel = [kernel_size] * 3 if isinstance(kernel_size, int) else list(kernel_size)
    dilation = [1, spatial_dilation, spatial_dilation]
    if padding is None:
        padding = [d * (k // 2) for k, d in zip(kernel, dilation)]
    conv = Conv3d(dim_in, dim_out, kernel, stride, padding, dilation, groups, bias=False)
    return conv, norm(dim_out)


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth: in training, zero a residual branch for a random ``rate`` of the samples
    and scale the kept ones by ``1 / (1 - rate)``; the identity otherwise (Huang et al., 2016)."""
    if rate <= 0.0 or not training:
        return x
    keep = 1.0 - rate
    mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)
    return x * mask.bernoulli_(keep).div_(keep)


class DropPath(nn.Module):
    """:func:`drop_path` as a module (``rate`` fixed at construction)."""

    def __init__(self, rate: float = 0.0) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.rate, self.training)

    def extra_repr(self) -> str:
        return f"rate={self.rate}"
