"""Model weights as ``.safetensors`` files: the field's format for weights that travel, which
holds only tensors and string metadata and so cannot run code when read.

A file holds a model's state dict (the ``.pyth`` layout: no ``module.`` prefix, sub-BN layers
as plain BN) and, as metadata, ``format: pt`` and the run's config as a YAML string under
``cfg``. It carries weights only: no epoch, optimizer or per-split sub-BN statistics, so loading
one starts a new training (as a ``.pyth`` without ``epoch`` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_to_bytes

from slowfast.utils.atomic import atomic_write

SAFETENSORS_SUFFIX = ".safetensors"


def is_safetensors(path: str) -> bool:
    """Whether ``path`` names a safetensors file (by its suffix, as the format's users do)."""
    return path.lower().endswith(SAFETENSORS_SUFFIX)


def _as_tensor(key: str, value: Any) -> torch.Tensor:
    if isinstance(value, np.ndarray | np.generic):
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"model_state[{key!r}] is a {type(value).__name__}, not a tensor")
    # A private contiguous copy: safetensors refuses tensors that share memory.
    return value.detach().to("cpu").contiguous().clone()


def write_safetensors(path: str, model_state: Mapping[str, Any], cfg: str | None = None) -> None:
    """Write ``model_state`` (tensors or NumPy arrays) to ``path`` atomically, with ``cfg``
    (a config dump) as metadata when given."""
    tensors = {str(k): _as_tensor(str(k), v) for k, v in model_state.items()}
    metadata = {"format": "pt"}
    if cfg:
        metadata["cfg"] = cfg
    data = save_to_bytes(tensors, metadata=metadata)
    atomic_write(path, lambda f: f.write(data))


def read_safetensors(path: str) -> dict[str, Any]:
    """Read ``path`` as ``{"model_state": tensors}`` plus ``cfg`` when its metadata has one;
    ValueError naming the file when it is not a safetensors file."""
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            state = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (not a dict)
            metadata = f.metadata() or {}
    except FileNotFoundError:
        raise
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read a safetensors file: {err}") from err
    out: dict[str, Any] = {"model_state": state}
    if metadata.get("cfg"):
        out["cfg"] = metadata["cfg"]
    return out
