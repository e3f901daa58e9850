"""The sub-BN <-> plain-BN state-dict layouts, converted here and nowhere else.

A :class:`~slowfast.models.norm.SubBatchNorm3d` at module path ``P`` has, in the model,
``P.weight``, ``P.bias``, ``P.bn.*`` (aggregated statistics used at evaluation) and
``P.split_bn.*`` (per-split statistics, ``C * splits`` long). Files, ours and PySlowFast's,
store it as a plain BN: ``P.running_mean``, ``P.running_var``, ``P.num_batches_tracked``. So a
file written by a sub-BN model loads into a plain-BN one and back, whatever the split count. Our
files also keep the per-split statistics (``split_bn_state``) so that a resumed run continues
them exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from slowfast.models.norm import aggregate_split_stats

_SPLIT_MARK = ".split_bn."
_TRACKED = "num_batches_tracked"
_STATS = ("running_mean", "running_var", _TRACKED)


def sub_bn_prefixes(keys: Iterable[str]) -> list[str]:
    """Module paths of the sub-BN layers in a model-layout state dict's ``keys``."""
    tail = ".split_bn.running_mean"
    return [k[: -len(tail)] for k in keys if k.endswith(tail)]


def sub_bn_to_bn_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """Store each sub-BN layer as a plain BN (the file layout).

    ``P.running_*`` are the statistics of the union of the splits, computed from
    ``P.split_bn.running_*`` (so they are right even when the evaluation copy ``P.bn`` was not
    refreshed), and ``P.split_bn.num_batches_tracked`` becomes ``P.num_batches_tracked``.
    """
    out = dict(state)
    for p in sub_bn_prefixes(state):
        split_mean = state[f"{p}.split_bn.running_mean"]
        splits = split_mean.numel() // state[f"{p}.bn.running_mean"].numel()
        mean, var = aggregate_split_stats(split_mean, state[f"{p}.split_bn.running_var"], splits)
        out[f"{p}.running_mean"], out[f"{p}.running_var"] = mean, var
        if f"{p}.split_bn.{_TRACKED}" in state:
            out[f"{p}.{_TRACKED}"] = state[f"{p}.split_bn.{_TRACKED}"]
        for key in state:
            if key.startswith((f"{p}.bn.", f"{p}.split_bn.")):
                del out[key]
    return out


def sub_bn_entries(
    name: str, value: torch.Tensor, model_state: Mapping[str, Any]
) -> dict[str, torch.Tensor] | None:
    """A plain-BN statistic ``P.running_*`` / ``P.num_batches_tracked`` for a model in which
    ``P`` is a sub-BN layer: ``P.bn.*`` gets the value, ``P.split_bn.*`` it tiled once per
    split. None when ``P`` is not a sub-BN layer of the model."""
    prefix, _, stat = name.rpartition(".")
    split_key = f"{prefix}.split_bn.{stat}"
    if stat not in _STATS or split_key not in model_state:
        return None
    if stat == _TRACKED:
        return {f"{prefix}.bn.{stat}": value.clone(), split_key: value.clone()}
    splits = model_state[split_key].numel() // max(value.numel(), 1)
    return {f"{prefix}.bn.{stat}": value, split_key: value.repeat(splits)}


def bn_to_sub_bn_state(state: Mapping[str, Any], model_state: Mapping[str, Any]) -> dict[str, Any]:
    """Undo :func:`sub_bn_to_bn_state` for the model's sub-BN layers (see
    :func:`sub_bn_entries`); layers already in the model layout are left as they are."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        prefix, _, stat = key.rpartition(".")
        entries = None
        if f"{prefix}.split_bn.{stat}" not in state:
            entries = sub_bn_entries(key, value, model_state)
        if entries is None:
            out[key] = value
        else:
            out.update(entries)
    return out


def split_bn_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The per-split statistics of a model-layout state dict (saved as ``split_bn_state``)."""
    return {k: v.contiguous() for k, v in state.items() if _SPLIT_MARK in k}


def exact_split_stats(
    saved: Mapping[str, torch.Tensor],
    state: Mapping[str, Any],
    model_state: Mapping[str, Any],
    prefix: str = "",
) -> dict[str, torch.Tensor]:
    """The saved per-split statistics that fit the model (instead of the average repeated per
    split that :func:`bn_to_sub_bn_state` gives); ``prefix`` is the model keys' own prefix
    (``module.`` under a wrapper)."""
    out = {}
    for key, value in saved.items():
        name = prefix + key
        if name in state and name in model_state and model_state[name].shape == value.shape:
            out[name] = value
    return out
