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
"""

from __future__ import annotations

import torch
from fvcore.common.config import CfgNode
from torch import nn

from slowfast.config.errors import ConfigError
from slowfast.utils.distributed import unwrap
from slowfast.utils.logging import get_logger
from slowfast.utils.lr_policy import get_lr_at_epoch, set_lr

__all__ = [
    "clip_gradients",
    "construct_optimizer",
    "get_epoch_lr",
    "get_param_groups",
    "is_norm_module",
    "set_lr",
]

logger = get_logger(__name__)


def is_norm_module(module: nn.Module) -> bool:
    """Whether ``module``'s own parameters are normalisation scale/shift (see module doc)."""
    if isinstance(module, nn.modules.batchnorm._NormBase):
        return True
    if getattr(module, "is_norm", False) is True:
        return True
    return isinstance(getattr(module, "split_bn", None), nn.modules.batchnorm._NormBase)


def get_param_groups(model: nn.Module, cfg: CfgNode) -> list[dict]:
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
            elif cfg.SOLVER.ZERO_WD_1D_PARAM and (param.ndim == 1 or name.endswith(".bias")):
                groups["zero"].append(param)
            else:
                groups["non_bn"].append(param)
    decay = {"bn": cfg.BN.WEIGHT_DECAY, "non_bn": cfg.SOLVER.WEIGHT_DECAY, "zero": 0.0}
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


def construct_optimizer(model: nn.Module, cfg: CfgNode) -> torch.optim.Optimizer:
    """SGD, Adam or AdamW (SOLVER.OPTIMIZING_METHOD) over :func:`get_param_groups`."""
    groups = get_param_groups(model, cfg)
    if not groups:
        raise ValueError("construct_optimizer: the model has no trainable parameters")
    solver = cfg.SOLVER
    method = solver.OPTIMIZING_METHOD
    if method == "sgd":
        if solver.NESTEROV and (solver.MOMENTUM <= 0 or solver.DAMPENING != 0):
            raise ConfigError(
                "SOLVER.NESTEROV needs SOLVER.MOMENTUM > 0 and SOLVER.DAMPENING == 0, got "
                f"MOMENTUM={solver.MOMENTUM}, DAMPENING={solver.DAMPENING}"
            )
        return torch.optim.SGD(
            groups,
            lr=solver.BASE_LR,
            momentum=solver.MOMENTUM,
            weight_decay=solver.WEIGHT_DECAY,
            dampening=solver.DAMPENING,
            nesterov=solver.NESTEROV,
        )
    if method in ("adam", "adamw"):
        cls = torch.optim.Adam if method == "adam" else torch.optim.AdamW
        return cls(
            groups,
            lr=solver.BASE_LR,
            betas=tuple(solver.BETAS),
            eps=1e-8,
            weight_decay=solver.WEIGHT_DECAY,
        )
    raise ConfigError(
        f"SOLVER.OPTIMIZING_METHOD: unknown optimizer {method!r}; choose sgd, adam or adamw"
    )


def get_epoch_lr(cur_epoch: float, cfg: CfgNode) -> float:
    """PySlowFast's name for :func:`slowfast.utils.lr_policy.get_lr_at_epoch`."""
    return get_lr_at_epoch(cfg, cur_epoch)


def clip_gradients(model: nn.Module, cfg: CfgNode) -> float | None:
    """Clip gradients per SOLVER.CLIP_GRAD_VAL (takes precedence, as in PySlowFast) or
    SOLVER.CLIP_GRAD_L2NORM; returns the total gradient L2 norm before clipping.

    With neither set nothing is computed and None is returned (no device synchronisation).
    Under mixed precision call ``scaler.unscale_(optimizer)`` first so the thresholds apply to
    the true gradients.
    """
    max_value, max_norm = cfg.SOLVER.CLIP_GRAD_VAL, cfg.SOLVER.CLIP_GRAD_L2NORM
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
