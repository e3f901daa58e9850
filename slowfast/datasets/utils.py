"""PySlowFast's ``slowfast.datasets.utils`` names that code outside the data pipeline imports.

Kept so that scripts written for PySlowFast (demos, visualisation) keep working; the pipeline
itself uses ``packing`` and ``transform``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from slowfast.datasets.packing import pack_pathway_output

__all__ = ["pack_pathway_output", "tensor_normalize"]


def tensor_normalize(
    tensor: torch.Tensor, mean: Sequence[float] | torch.Tensor, std: Sequence[float] | torch.Tensor
) -> torch.Tensor:
    """``(x - mean) / std`` over the last (channel) dimension; uint8 input is scaled by 1/255."""
    if tensor.dtype == torch.uint8:
        tensor = tensor.float() / 255.0
    return (tensor - torch.as_tensor(mean)) / torch.as_tensor(std)
