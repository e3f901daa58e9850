"""Optimizer construction and gradient clipping.

Parameters are split into PySlowFast's three groups, in PySlowFast's order (empty groups left
out), so that optimizer states from PySlowFast checkpoints load into ours and back:

1. ``bn``: weight and bias of normalisation layers, at BN.WEIGHT_DECAY. A module counts as a
   normalisation layer when it is a ``torch.nn.modules.batchnorm._NormBase`` (BatchNorm1/2/3d,
   SyncBatchNorm and subclasses, InstanceNorm), has the class attribute ``is_norm = True``, or
   has PySlowFast's sub-BN layout (a ``split_bn`` batch-norm child; the wrapper owns the affine
   weight and bias). PySlowFast itself decays sub-BN weights at SOLVER.WEIGHT_DECAY; we do not.
2. ``non_bn``: everything else, at SOLVER.WEIGHT_DECAY.
3. ``zero``: at weight decay 0: names listed by the model's optional ``no_weight_decay()`` and,
   with SOLVER.ZERO_WD_1D_PARAM, every other 1-D parameter or ``.bias``. As in PySlowFast, a
   normalisation layer's parameters stay in group 1 even when ZERO_WD_1D_PARAM is on.

Parameters with ``requires_grad=False`` are left out. The groups hold the model's own
``Parameter`` objects, so swapping a norm layer in place while keeping its Parameters keeps the
optimizer state attached to them.

The functions take explicit arguments; :func:`construct_optimizer` and :func:`clip_gradients`
are the cfg-reading wrappers the trainer calls.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from fvcore.common.config import CfgNode
from torch import nn

from slowfast.config.errors import ConfigError
from slowfast.utils.distributed import unwrap
from slowfast.utils.logging import get_logger
from slowfast.utils.lr_policy import set_lr
from slowfast.utils.registry import Registry

__all__ = [
    "OPTIMIZER_REGISTRY",
    "clip_gradients",
    "clip_grads",
    "construct_optimizer",
    "create_optimizer",
    "get_param_groups",
    "is_norm_module",
    "param_groups",
    "set_lr",
]

logger = get_logger(__name__)

OPTIMIZER_REGISTRY = Registry("OPTIMIZER")
OPTIMIZER_REGISTRY.__doc__ = """Optimizers by SOLVER.OPTIMIZING_METHOD name.

Contract: ``@OPTIMIZER_REGISTRY.register_as("name")`` on a function ``make(groups, *, lr,
momentum, weight_decay, dampening, nesterov, betas)`` returning a ``torch.optim.Optimizer`` over
the param groups; it ignores the settings its method has no use for.
"""


def is_norm_module(module: nn.Module) -> bool:
    """Whether ``module``'s own parameters are normalisation scale/shift (see module doc)."""
    if isinstance(module, nn.modules.batchnorm._NormBase):
        return True
    if getattr(module, "is_norm", False) is True:
        return True
    return isinstance(getattr(module, "split_bn", None), nn.modules.batchnorm._NormBase)


def param_groups(
    model: nn.Module, *, weight_decay: float, bn_weight_decay: float, zero_wd_1d: bool = False
) -> list[dict]:
    """The optimizer's param groups (``params``, ``weight_decay``, ``name``), empty ones dropped."""
    model = unwrap(model)
    skip = set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else set()
    groups: dict[str, list[nn.Parameter]] = {"bn": [], "non_bn": [], "zero": []}
    seen: set[int] = set()
    for module_name, module in model.named_modules():
        norm = is_norm_module(module)
        for param_name, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                continue
            seen.add(id(param))
            if not param.requires_grad:
                continue
            name = f"{module_name}.{param_name}" if module_name else param_name
            if norm:
                groups["bn"].append(param)
            elif any(key in name for key in skip):
                groups["zero"].append(param)
            elif zero_wd_1d and (param.ndim == 1 or name.endswith(".bias")):
                groups["zero"].append(param)
            else:
                groups["non_bn"].append(param)
    decay = {"bn": bn_weight_decay, "non_bn": weight_decay, "zero": 0.0}
    logger.info(
        "Optimizer param groups: bn %d, non_bn %d, zero-decay %d, frozen %d",
        len(groups["bn"]),
        len(groups["non_bn"]),
        len(groups["zero"]),
        len(seen) - sum(len(v) for v in groups.values()),
    )
    return [
        {"params": params, "weight_decay": decay[name], "name": name}
        for name, params in groups.items()
        if params
    ]


def get_param_groups(model: nn.Module, cfg: CfgNode) -> list[dict]:
    """:func:`param_groups` with SOLVER.WEIGHT_DECAY, BN.WEIGHT_DECAY, SOLVER.ZERO_WD_1D_PARAM."""
    return param_groups(
        model,
        weight_decay=cfg.SOLVER.WEIGHT_DECAY,
        bn_weight_decay=cfg.BN.WEIGHT_DECAY,
        zero_wd_1d=cfg.SOLVER.ZERO_WD_1D_PARAM,
    )


@OPTIMIZER_REGISTRY.register_as("sgd")
def _sgd(groups, *, betas, **settings):
    if settings["nesterov"] and (settings["momentum"] <= 0 or settings["dampening"] != 0):
        raise ConfigError(
            "SOLVER.NESTEROV needs SOLVER.MOMENTUM > 0 and SOLVER.DAMPENING == 0, got "
            f"MOMENTUM={settings['momentum']}, DAMPENING={settings['dampening']}"
        )
    return torch.optim.SGD(groups, **settings)


@OPTIMIZER_REGISTRY.register_as("adam")
def _adam(groups, *, lr, weight_decay, betas, **_unused):
    return torch.optim.Adam(groups, lr=lr, betas=tuple(betas), eps=1e-8, weight_decay=weight_decay)


@OPTIMIZER_REGISTRY.register_as("adamw")
def _adamw(groups, *, lr, weight_decay, betas, **_unused):
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=1e-8, weight_decay=weight_decay)


def create_optimizer(
    groups: list[dict],
    method: str = "sgd",
    *,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    betas: Sequence[float] = (0.9, 0.999),
) -> torch.optim.Optimizer:
    """The optimizer registered as ``method`` over ``groups`` (see :func:`param_groups`)."""
    if not groups:
        raise ValueError("construct_optimizer: the model has no trainable parameters")
    if method not in OPTIMIZER_REGISTRY:
        raise ConfigError(
            f"SOLVER.OPTIMIZING_METHOD: unknown optimizer {method!r}; "
            f"choose from {OPTIMIZER_REGISTRY.names()}"
        )
    settings = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, dampening=dampening)
    return OPTIMIZER_REGISTRY.get(method)(groups, nesterov=nesterov, betas=betas, **settings)


def construct_optimizer(model: nn.Module, cfg: CfgNode) -> torch.optim.Optimizer:
    """SOLVER.OPTIMIZING_METHOD over :func:`get_param_groups`, with the SOLVER settings."""
    solver = cfg.SOLVER
    return create_optimizer(
        get_param_groups(model, cfg),
        solver.OPTIMIZING_METHOD,
        lr=solver.BASE_LR,
        momentum=solver.MOMENTUM,
        weight_decay=solver.WEIGHT_DECAY,
        dampening=solver.DAMPENING,
        nesterov=solver.NESTEROV,
        betas=solver.BETAS,
    )


def clip_grads(
    model: nn.Module, max_value: float | None = None, max_norm: float | None = None
) -> float | None:
    """Clip gradients to ``max_value`` (takes precedence, as in PySlowFast) or to L2 norm
    ``max_norm``; returns the total gradient L2 norm before clipping.

    With neither set nothing is computed and None is returned (no device synchronisation).
    Under mixed precision call ``scaler.unscale_(optimizer)`` first so the thresholds apply to
    the true gradients.
    """
    if not max_value and not max_norm:
        return None
    params = [p for p in model.parameters() if p.grad is not None]
    if not params:
        return 0.0
    if max_value:
        norm = torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(p.grad.detach()) for p in params])
        )
        nn.utils.clip_grad_value_(params, max_value)
    else:
        norm = nn.utils.clip_grad_norm_(params, max_norm)
    return float(norm)


def clip_gradients(model: nn.Module, cfg: CfgNode) -> float | None:
    """:func:`clip_grads` with SOLVER.CLIP_GRAD_VAL and SOLVER.CLIP_GRAD_L2NORM."""
    return clip_grads(model, cfg.SOLVER.CLIP_GRAD_VAL, cfg.SOLVER.CLIP_GRAD_L2NORM)
