"""Non-local block (Wang et al., "Non-local neural networks", CVPR 2018)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from slowfast.models.norm import NormFactory
from slowfast.models.weight_init import mark_final_norm

INSTANTIATIONS = ("dot_product", "softmax")


class Nonlocal(nn.Module):
    """Residual non-local block: ``x + bn(conv_out(attention(theta(x), phi(x'), g(x'))))``.

    ``x'`` is ``x`` max-pooled by ``pool_size`` (when any entry exceeds 1). The affinity is
    normalised by softmax (scaled by ``dim_inner ** -0.5``) or, for ``dot_product``, divided by
    the number of pooled positions. The final norm is zero-initialised with the residual ones.
    """

    def __init__(
        self,
        *,
        dim: int,
        dim_inner: int,
        pool_size: Sequence[int] | None,
        instantiation: str,
        norm: NormFactory,
    ) -> None:
        super().__init__()
        if instantiation not in INSTANTIATIONS:
            raise ValueError(
                f"NONLOCAL.INSTANTIATION must be one of {INSTANTIATIONS}, got {instantiation!r}"
            )
        self.dim_inner = dim_inner
        self.instantiation = instantiation
        self.conv_theta = nn.Conv3d(dim, dim_inner, kernel_size=1)
        self.conv_phi = nn.Conv3d(dim, dim_inner, kernel_size=1)
        self.conv_g = nn.Conv3d(dim, dim_inner, kernel_size=1)
        self.conv_out = nn.Conv3d(dim_inner, dim, kernel_size=1)
        self.bn = mark_final_norm(norm(dim))
        self.use_pool = pool_size is not None and any(s > 1 for s in pool_size)
        if self.use_pool:
            self.pool = nn.MaxPool3d(kernel_size=list(pool_size), stride=list(pool_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, t, h, w = x.shape
        theta = self.conv_theta(x).flatten(2)  # N x C' x THW
        pooled = self.pool(x) if self.use_pool else x
        phi = self.conv_phi(pooled).flatten(2)  # N x C' x P
        g = self.conv_g(pooled).flatten(2)  # N x C' x P
        affinity = torch.matmul(theta.transpose(1, 2), phi)  # N x THW x P
        if self.instantiation == "softmax":
            affinity = (affinity * self.dim_inner**-0.5).softmax(dim=2)
        else:
            affinity = affinity / affinity.shape[2]
        out = torch.matmul(g, affinity.transpose(1, 2))  # N x C' x THW
        out = out.view(n, self.dim_inner, t, h, w)
        return x + self.bn(self.conv_out(out))
