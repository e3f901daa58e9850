"""Loss functions selected by MODEL.LOSS_FUNC, in :data:`LOSS_REGISTRY`."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from slowfast.config.errors import ConfigError
from slowfast.utils.registry import Registry

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

LOSS_REGISTRY = Registry("LOSS")
LOSS_REGISTRY.__doc__ = """Losses by MODEL.LOSS_FUNC name.

Contract: ``@LOSS_REGISTRY.register_as("name")`` on a function ``loss(scores, labels)`` returning
a scalar tensor; ``scores`` is the model's ``N x classes`` output, ``labels`` are class ids
(``N``) or, for multi-label and soft targets, ``N x classes`` floats.
"""


@LOSS_REGISTRY.register_as("cross_entropy")
def _cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels.long())


@LOSS_REGISTRY.register_as("bce_logit")
def _bce_logit(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, labels.float())


@LOSS_REGISTRY.register_as("bce")
def _bce(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy(probs, labels.float())


@LOSS_REGISTRY.register_as("soft_cross_entropy")
def _soft_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.sum(-labels * F.log_softmax(logits, dim=-1), dim=-1).mean()


def get_loss_func(name: str) -> LossFn:
    """The loss called as ``loss(scores, labels)``; a clear error for an unknown name."""
    if name not in LOSS_REGISTRY:
        raise ConfigError(
            f"MODEL.LOSS_FUNC: unknown loss {name!r}; choose from {LOSS_REGISTRY.names()}"
        )
    return LOSS_REGISTRY.get(name)


def loss_constructor(name: str) -> Callable[..., LossFn]:
    """PySlowFast's ``get_loss_func(name)``: a constructor called as ``(reduction="mean")`` that
    returns the loss. The registered losses average over the batch, so only ``"mean"`` is
    accepted (ValueError otherwise)."""
    loss = get_loss_func(name)

    def construct(reduction: str = "mean") -> LossFn:
        if reduction != "mean":
            raise ValueError(
                f"loss {name!r}: reduction {reduction!r} is not available; the registered "
                "losses average over the batch (reduction='mean')"
            )
        return loss

    return construct
