"""Precise BN: recompute batch-norm statistics with frozen weights before evaluation.

During training the running statistics trail the changing weights; re-estimating them over
BN.NUM_BATCHES_PRECISE training batches (fvcore's population estimator) gives the evaluation
the statistics of the final weights. Sub-BN evaluation statistics are re-aggregated afterwards,
and with several processes the estimates are averaged so every process evaluates alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch
from fvcore.nn import precise_bn as fvcore_precise_bn
from torch import nn

from slowfast.models.norm import aggregate_sub_bn_stats
from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)


def _model_inputs(batch: Any, device: torch.device | None) -> list[torch.Tensor]:
    """The model's input from a loader batch ``(frames, labels, index, meta)``: a list of
    pathway tensors on ``device``."""
    inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
    if isinstance(inputs, torch.Tensor):
        inputs = [inputs]
    if device is not None:
        inputs = [x.to(device, non_blocking=True) for x in inputs]
    return list(inputs)


def _feed(loader: Iterable[Any], device: torch.device | None) -> Iterator[list[torch.Tensor]]:
    for batch in loader:
        yield _model_inputs(batch, device)


def _average_over_processes(layers: list[nn.Module]) -> None:
    """Average each layer's mean and second moment over processes (then var = E[x²] - mean²)."""
    if du.get_world_size() == 1 or not layers:
        return
    means = [bn.running_mean for bn in layers]
    squares = [bn.running_var + bn.running_mean**2 for bn in layers]
    du.all_reduce_mean(means + squares)
    for bn, mean, square in zip(layers, means, squares):
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(square - mean**2)


@torch.no_grad()
def update_bn_stats(
    model: nn.Module,
    loader: Iterable[Any],
    num_batches: int,
    device: torch.device | str | None = None,
) -> int:
    """Re-estimate the running statistics of every BN layer of ``model`` over ``loader``.

    Uses ``min(num_batches, len(loader))`` batches (a loader without ``len`` must yield at least
    ``num_batches``). The model runs in training mode and is put back in its previous mode; layers
    no batch reaches keep their statistics. Returns the number of batches used (0 when the model
    has no BN layer: nothing happens then).
    """
    was_training = {m: m.training for m in model.modules()}
    model.train()
    try:
        layers = fvcore_precise_bn.get_bn_modules(model)
        if not layers:
            logger.info("Precise BN: the model has no BN layer; nothing to do")
            return 0
        if hasattr(loader, "__len__"):
            num_batches = min(num_batches, len(loader))
        if num_batches <= 0:
            logger.info("Precise BN: no batches to use; statistics unchanged")
            return 0
        before = {bn: (bn.running_mean.clone(), bn.running_var.clone()) for bn in layers}
        momenta = {bn: bn.momentum for bn in layers}
        old_hooks = {bn: set(bn._forward_pre_hooks) for bn in layers}
        used: set[nn.Module] = set()
        for bn in layers:
            bn.register_forward_pre_hook(lambda m, _: used.add(m))
        try:
            fvcore_precise_bn.update_bn_stats(
                model, _feed(loader, torch.device(device) if device else None), num_batches
            )
        except AssertionError as err:  # fvcore's check that the loader lasted num_batches
            for bn in layers:
                bn.running_mean, bn.running_var = before[bn]
            raise RuntimeError(f"Precise BN: {err}") from err
        finally:
            # Remove our hook and fvcore's (which fvcore leaves behind when it fails).
            for bn in layers:
                for key in set(bn._forward_pre_hooks) - old_hooks[bn]:
                    del bn._forward_pre_hooks[key]
                bn.momentum = momenta[bn]
        for bn in layers:
            if bn not in used:
                bn.running_mean, bn.running_var = before[bn]
        _average_over_processes([bn for bn in layers if bn in used])
        aggregate_sub_bn_stats(model)
        logger.info("Precise BN: %d layers updated over %d batches", len(used), num_batches)
        return num_batches
    finally:
        for module, mode in was_training.items():
            module.training = mode
