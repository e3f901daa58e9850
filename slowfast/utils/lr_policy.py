"""Learning-rate schedules as functions of (fractional) epoch.

The trainer calls :func:`get_lr_at_epoch` every iteration with ``epoch + iter / iters_per_epoch``
and writes the result into the optimizer with :func:`set_lr`. The numbers match PySlowFast's
``slowfast/utils/lr_policy.py`` for the policies it has (``cosine``, ``steps_with_relative_lrs``);
``steps`` and ``constant`` are small additions documented below.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError
from slowfast.config.validate import check_lr_schedule
from slowfast.utils.registry import Registry

LR_POLICY_REGISTRY = Registry("LR_POLICY")
LR_POLICY_REGISTRY.__doc__ = """LR policies by SOLVER.LR_POLICY name.

Contract: ``@LR_POLICY_REGISTRY.register_as("name")`` on a function ``policy(cfg, epoch)`` that
returns the learning rate at fractional ``epoch`` without warm-up (``get_lr_at_epoch`` adds the
warm-up); it raises :class:`ConfigError` naming the SOLVER key when the config cannot define it.
"""


def policy_lr(
    policy: str,
    epoch: float,
    *,
    base_lr: float,
    steps: Sequence[float] = (),
    lrs: Sequence[float] = (),
    gamma: float = 0.1,
    max_epoch: float = 1.0,
    cosine_end_lr: float = 0.0,
    cosine_start: float = 0.0,
) -> float:
    """The learning rate of ``policy`` at fractional ``epoch``, without warm-up: the one place
    the formulas live (the config path below and the multigrid schedule both call it).

    * ``steps_with_relative_lrs``: ``base_lr * lrs[i]`` in the ``steps`` interval ``i``;
    * ``steps``: ``base_lr * gamma**i``;
    * ``cosine``: half a cosine from ``base_lr`` at ``cosine_start`` to ``cosine_end_lr`` at
      ``max_epoch``;
    * ``constant``: ``base_lr``.
    """
    if policy == "cosine":
        progress = (epoch - cosine_start) / (max_epoch - cosine_start)
        cosine = 1.0 + math.cos(math.pi * progress)
        return cosine_end_lr + 0.5 * (base_lr - cosine_end_lr) * cosine
    if policy == "constant" or not steps:
        return base_lr
    index = 0
    for i, start in enumerate(steps):
        if epoch >= start:
            index = i
    if policy == "steps":
        return base_lr * gamma**index
    return base_lr * lrs[index]


@LR_POLICY_REGISTRY.register_as("steps_with_relative_lrs")
def _lr_steps_with_relative_lrs(cfg: CfgNode, cur_epoch: float) -> float:
    """BASE_LR times the SOLVER.LRS entry of the current step interval."""
    check_lr_schedule(cfg)
    solver = cfg.SOLVER
    index = sum(1 for s in solver.STEPS if cur_epoch >= s) - 1
    if index >= len(solver.LRS):
        raise ConfigError(
            f"SOLVER.LRS has {len(solver.LRS)} entries but SOLVER.STEPS "
            f"{list(solver.STEPS)} needs {len(solver.STEPS)}"
        )
    return policy_lr(
        "steps_with_relative_lrs",
        cur_epoch,
        base_lr=solver.BASE_LR,
        steps=solver.STEPS,
        lrs=solver.LRS,
    )


@LR_POLICY_REGISTRY.register_as("steps")
def _lr_steps(cfg: CfgNode, cur_epoch: float) -> float:
    """BASE_LR times GAMMA to the power of the current step interval's index."""
    check_lr_schedule(cfg)
    solver = cfg.SOLVER
    return policy_lr(
        "steps", cur_epoch, base_lr=solver.BASE_LR, steps=solver.STEPS, gamma=solver.GAMMA
    )


@LR_POLICY_REGISTRY.register_as("cosine")
def _lr_cosine(cfg: CfgNode, cur_epoch: float) -> float:
    """Half a cosine from BASE_LR (at 0, or at WARMUP_EPOCHS) down to COSINE_END_LR at MAX_EPOCH."""
    check_lr_schedule(cfg)
    solver = cfg.SOLVER
    offset = solver.WARMUP_EPOCHS if solver.COSINE_AFTER_WARMUP else 0.0
    return policy_lr(
        "cosine",
        cur_epoch,
        base_lr=solver.BASE_LR,
        max_epoch=solver.MAX_EPOCH,
        cosine_end_lr=solver.COSINE_END_LR,
        cosine_start=offset,
    )


@LR_POLICY_REGISTRY.register_as("constant")
def _lr_constant(cfg: CfgNode, cur_epoch: float) -> float:
    """BASE_LR throughout."""
    return cfg.SOLVER.BASE_LR


def get_policy(name: str) -> Callable[[CfgNode, float], float]:
    """The schedule function registered under ``name`` (a SOLVER.LR_POLICY value)."""
    if name not in LR_POLICY_REGISTRY:
        raise ConfigError(
            f"SOLVER.LR_POLICY: unknown policy {name!r}; choose one of {LR_POLICY_REGISTRY.names()}"
        )
    return LR_POLICY_REGISTRY.get(name)


def get_lr_at_epoch(cfg: CfgNode, cur_epoch: float) -> float:
    """The learning rate at fractional epoch ``cur_epoch``, including the linear warm-up.

    During the first SOLVER.WARMUP_EPOCHS the rate rises linearly from SOLVER.WARMUP_START_LR to
    the policy's value at WARMUP_EPOCHS, exactly as PySlowFast does.
    """
    policy = get_policy(cfg.SOLVER.LR_POLICY)
    warmup = cfg.SOLVER.WARMUP_EPOCHS
    if cur_epoch < warmup:
        start = cfg.SOLVER.WARMUP_START_LR
        end = policy(cfg, warmup)
        return start + (end - start) * cur_epoch / warmup
    return policy(cfg, cur_epoch)


def get_epoch_lr(cur_epoch: float, cfg: CfgNode) -> float:
    """:func:`get_lr_at_epoch` with PySlowFast's ``models/optimizer.py`` argument order."""
    return get_lr_at_epoch(cfg, cur_epoch)


def set_lr(optimizer: torch.optim.Optimizer, new_lr: float) -> None:
    """Write ``new_lr`` into every param group, times the group's optional ``lr_scale``."""
    for group in optimizer.param_groups:
        group["lr"] = new_lr * group.get("lr_scale", 1.0)
