"""Small checkpointables (objects with ``state_dict`` / ``load_state_dict``) for what is not a
module or optimizer: the random generators, and state reached through two functions (the
trainer's counters).

A checkpointable may set ``checkpoint_key`` to choose its entry in the file; otherwise the
:class:`~slowfast.checkpoint.checkpointer.Checkpointer` stores checkpointable ``name`` under
``<name>_state`` (PySlowFast's ``optimizer_state``, ``scaler_state``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch


def capture_rng_state() -> dict[str, Any]:
    """The Python, NumPy, torch CPU and CUDA generator states, as tensors and numbers."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": {
            "version": py_version,
            "state": torch.tensor(py_state, dtype=torch.int64),
            "gauss_next": py_gauss,
        },
        "numpy": {
            "name": str(np_name),
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_gauss),
        },
        "torch": torch.get_rng_state(),
        "cuda": [],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Set the generators to a state from :func:`capture_rng_state`."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss_next"]))
    npy = state["numpy"]
    np.random.set_state(
        (
            npy["name"],
            npy["keys"].numpy().astype(np.uint32),
            npy["pos"],
            npy["has_gauss"],
            npy["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        for device, cuda_state in enumerate(cuda[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, device)


class RNGState:
    """The process's random generators as a checkpointable (saved as ``rng_state``), so that a
    resumed run draws the same numbers as an uninterrupted one."""

    def state_dict(self) -> dict[str, Any]:
        return capture_rng_state()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        restore_rng_state(state)


class StateFunctions:
    """A checkpointable made of two functions, for state that lives in another object's
    attributes (the trainer's counters); ``checkpoint_key`` names its entry in the file."""

    def __init__(
        self,
        get_state: Callable[[], dict[str, Any]],
        set_state: Callable[[dict[str, Any]], None],
        checkpoint_key: str | None = None,
    ) -> None:
        self._get, self._set = get_state, set_state
        if checkpoint_key is not None:
            self.checkpoint_key = checkpoint_key

    def state_dict(self) -> dict[str, Any]:
        return self._get()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._set(state)
