"""Writing and reading checkpoint files: atomic saves, reads that never run code, clear errors,
and the newest readable file of a list.

Everything saved is plain containers, numbers, strings and tensors, so files load with
``torch.load(weights_only=True)``. Reading is weights-only too, with the NumPy values of older
files admitted by name (:mod:`slowfast.checkpoint.safe_pickle`); a file that names anything
else is refused unless trusted through ``SLOWFAST_TRUSTED_CHECKPOINTS``. A write goes to a
hidden temporary file in the same directory, which is flushed, fsync'ed and renamed over the
final name (then the directory is fsync'ed), so a crash never leaves a truncated file under a
checkpoint name.
"""

from __future__ import annotations

import os
import pickle
import re
from typing import Any

import numpy as np
import torch

from slowfast.checkpoint.safe_pickle import DATA_GLOBALS, admit_unsafe, torch_safe_globals
from slowfast.utils.atomic import atomic_write
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)


def check_plain(value: Any, where: str) -> None:
    """Refuse values that ``torch.load(weights_only=True)`` could not read back (TypeError
    naming the first such value by its place in ``where``)."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: key {key!r} is not a str or int")
            check_plain(item, f"{where}[{key!r}]")
        return
    raise TypeError(
        f"{where} is a {type(value).__name__}; checkpoint extras must be tensors, numbers, "
        "strings, None, lists, tuples or dicts"
    )


def atomic_save(obj: Any, path: str) -> None:
    """``torch.save(obj)`` to ``path`` so that ``path`` is either the old file or the whole new
    one, never a part (:func:`slowfast.utils.atomic.atomic_write`)."""
    atomic_write(path, lambda f: torch.save(obj, f))


def _refused_globals(path: str, err: Exception) -> list[str]:
    """The globals of ``path`` beyond the allow-list, read without unpickling (from the error
    when the file's format does not allow that)."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # legacy (non-zip) files: the error names the first one
        names = re.findall(r"GLOBAL ([\w.]+)", str(err))[:1]
    return sorted(n for n in set(names) if n not in DATA_GLOBALS)


def _torch_load_weights_only(path: str) -> Any:
    with torch.serialization.safe_globals(torch_safe_globals()):
        return torch.load(path, map_location="cpu", weights_only=True)


def read_checkpoint(path: str, trusted: bool | None = None) -> dict[str, Any]:
    """Read a PyTorch checkpoint file onto the CPU as a dict with ``model_state``, running no
    code from it.

    The file is read with ``weights_only=True`` and the NumPy values of older files admitted
    by name. A file that names other objects raises
    :class:`~slowfast.checkpoint.safe_pickle.UnsafeCheckpointError` (naming them and the
    opt-in) unless ``trusted`` (None: :func:`~slowfast.checkpoint.safe_pickle.is_trusted`), in
    which case it is read in full and the log says so. A bare state dict (torchvision's files)
    is returned as ``{"model_state": it}``; NumPy arrays in ``model_state`` (older files)
    become tensors.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    try:
        checkpoint = _torch_load_weights_only(path)
    except pickle.UnpicklingError as err:
        if "weights only" not in str(err).lower():
            raise
        refused = _refused_globals(path, err)
        admit_unsafe(path, refused, trusted)
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path}: expected a dict, found a {type(checkpoint).__name__}")
    if "model_state" not in checkpoint:
        if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
            return {"model_state": checkpoint}
        raise ValueError(
            f"{path}: not a checkpoint (no 'model_state'; keys {sorted(checkpoint)[:10]})"
        )
    state = checkpoint["model_state"]
    if isinstance(state, dict) and any(isinstance(v, np.ndarray) for v in state.values()):
        checkpoint["model_state"] = {
            k: torch.from_numpy(v.copy()) if isinstance(v, np.ndarray) else v
            for k, v in state.items()
        }
    return checkpoint


def read_newest(paths: list[str], where: str) -> tuple[str, dict[str, Any], list[str]] | None:
    """The newest of ``paths`` (ordered oldest first) that reads cleanly, as (path, contents,
    the newer unreadable paths skipped); None when ``paths`` is empty.

    Raises RuntimeError when every file is unreadable, rather than silently start over.
    """
    skipped = []
    for path in reversed(paths):
        try:
            return path, read_checkpoint(path), skipped
        except Exception as err:  # any read failure: truncated zip, bad pickle, I/O error
            logger.warning(
                "Skipping unreadable checkpoint %s (%s: %s)", path, type(err).__name__, err
            )
            skipped.append(path)
    if paths:
        raise RuntimeError(
            f"none of the {len(paths)} checkpoints in {where} can be read; "
            "move them away to start over"
        )
    return None
