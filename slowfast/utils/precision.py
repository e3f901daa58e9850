"""Numeric precision and memory layout of a training step, chosen in one place for the trainer and
the benchmarks.

``TRAIN.MIXED_PRECISION`` (PySlowFast's key) means float16 autocast with a gradient scaler on CUDA,
as in PySlowFast, and bfloat16 autocast on the CPU, where PySlowFast's CUDA-only autocast does
nothing. bfloat16 has float32's exponent range, so it needs no gradient scaler.
``MODEL.CHANNELS_LAST`` stores conv weights and 5-D inputs as ``channels_last_3d`` (N, T, H, W, C
in memory), the layout oneDNN and cuDNN convolutions prefer; unset (None), it is chosen per device
(:func:`default_channels_last`).
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from fvcore.common.config import CfgNode


def autocast_dtype(mixed_precision: bool, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype for ``device``: float16 on CUDA, bfloat16 on the CPU, None when off."""
    if not mixed_precision:
        return None
    kind = torch.device(device).type
    if kind == "cuda":
        return torch.float16
    if kind == "cpu":
        return torch.bfloat16
    return None


def train_autocast_dtype(cfg: CfgNode, device: torch.device | str) -> torch.dtype | None:
    """:func:`autocast_dtype` for ``TRAIN.MIXED_PRECISION``."""
    return autocast_dtype(bool(cfg.TRAIN.MIXED_PRECISION), device)


def autocast(
    device: torch.device | str, dtype: torch.dtype | None
) -> contextlib.AbstractContextManager:
    """An autocast context for ``dtype`` on ``device``, or a no-op one when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def needs_grad_scaler(dtype: torch.dtype | None) -> bool:
    """Whether gradients need loss scaling: only float16 underflows."""
    return dtype == torch.float16


def memory_format(channels_last: bool) -> torch.memory_format:
    """``torch.channels_last_3d`` when asked for, else the default contiguous layout."""
    return torch.channels_last_3d if channels_last else torch.contiguous_format


def default_channels_last(device: torch.device | str) -> bool:
    """The layout ``MODEL.CHANNELS_LAST None`` gives: channels_last_3d on the CPU, where it was
    measured faster (BENCHMARKS.md), the default layout elsewhere (not measured yet)."""
    return torch.device(device).type == "cpu"


def model_memory_format(cfg: CfgNode, device: torch.device | str = "cpu") -> torch.memory_format:
    """:func:`memory_format` for ``MODEL.CHANNELS_LAST`` on ``device``."""
    value = cfg.MODEL.CHANNELS_LAST
    return memory_format(default_channels_last(device) if value is None else bool(value))


def describe(dtype: torch.dtype | None, fmt: torch.memory_format, cfg: CfgNode) -> str:
    """One line saying which precision and layout a run uses and which keys chose them."""
    if dtype is None:
        what = "float32"
    else:
        what = f"{str(dtype).replace('torch.', '')} autocast"
        what += " with a gradient scaler" if needs_grad_scaler(dtype) else ""
    layout = "channels_last_3d" if fmt == torch.channels_last_3d else "contiguous"
    if cfg.MODEL.CHANNELS_LAST is None:
        how = "MODEL.CHANNELS_LAST unset: this device's default"
    else:
        how = f"MODEL.CHANNELS_LAST {bool(cfg.MODEL.CHANNELS_LAST)}"
    return (
        f"precision: {what} (TRAIN.MIXED_PRECISION {bool(cfg.TRAIN.MIXED_PRECISION)}); "
        f"memory layout: {layout} ({how})"
    )


def to_memory_format(inputs: Any, fmt: torch.memory_format) -> Any:
    """Lay out every 5-D tensor of ``inputs`` (a tensor or nested lists of them) in ``fmt``."""
    if fmt == torch.contiguous_format:
        return inputs
    if isinstance(inputs, (list, tuple)):
        return [to_memory_format(x, fmt) for x in inputs]
    if isinstance(inputs, torch.Tensor) and inputs.dim() == 5:
        return inputs.contiguous(memory_format=fmt)
    return inputs
