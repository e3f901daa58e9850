"""ResNet-style weight initialisation, as PySlowFast's models are initialised."""

from __future__ import annotations

import torch.nn as nn
from fvcore.nn.weight_init import c2_msra_fill

from slowfast.models.norm import is_norm


def mark_final_norm(norm: nn.Module) -> nn.Module:
    """Tag the last norm of a residual branch (or non-local block) for zero-init; returns it."""
    norm.is_final_norm = True
    return norm


def init_weights(
    model: nn.Module, fc_init_std: float = 0.01, zero_init_final_bn: bool = True
) -> None:
    """Initialise ``model`` in place.

    Convolutions: MSRA (Kaiming normal, fan-out), zero bias. Norms: scale 1 (0 for norms tagged by
    :func:`mark_final_norm` when ``zero_init_final_bn``, so each residual block starts as the
    identity), shift 0. Linear layers: normal with std ``fc_init_std``, zero bias.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv3d, nn.Conv2d)):
            c2_msra_fill(m)
        elif is_norm(m) and m.weight is not None:
            zero = zero_init_final_bn and getattr(m, "is_final_norm", False)
            m.weight.data.fill_(0.0 if zero else 1.0)
            m.bias.data.zero_()
        elif isinstance(m, nn.Linear):
            m.weight.data.normal_(mean=0.0, std=fc_init_std)
            if m.bias is not None:
                m.bias.data.zero_()
