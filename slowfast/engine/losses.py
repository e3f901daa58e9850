"""Loss functions selected by MODEL.LOSS_FUNC."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from slowfast.config.errors import ConfigError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels.long())


def _bce_logit(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, labels.float())


def _bce(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy(probs, labels.float())


def _soft_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.sum(-labels * F.log_softmax(logits, dim=-1), dim=-1).mean()


_LOSSES: dict[str, LossFn] = {
    "cross_entropy": _cross_entropy,
    "bce_logit": _bce_logit,
    "bce": _bce,
    "soft_cross_entropy": _soft_cross_entropy,
}


def get_loss_func(name: str) -> LossFn:
    """The loss called as ``loss(scores, labels)``; a clear error for an unknown name."""
    if name not in _LOSSES:
        raise ConfigError(f"MODEL.LOSS_FUNC: unknown loss {name!r}; choose from {sorted(_LOSSES)}")
    return _LOSSES[name]
