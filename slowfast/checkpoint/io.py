"""Writing and reading checkpoint files: atomic saves, reads with clear errors, and the newest
readable file of a list.

Everything saved is plain containers, numbers, strings and tensors, so files load with
``torch.load(weights_only=True)``. A write goes to a hidden temporary file in the same
directory, which is flushed, fsync'ed and renamed over the final name (then the directory is
fsync'ed), so a crash never leaves a truncated file under a checkpoint name.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import torch

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


def read_checkpoint(path: str) -> dict[str, Any]:
    """Read a PyTorch checkpoint file onto the CPU as a dict with ``model_state``.

    Tries ``weights_only=True`` first; only a file holding other Python objects is read again
    with ``weights_only=False`` (logged: do that only with files you trust). A bare state dict
    (torchvision's files) is returned as ``{"model_state": it}``.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only" not in str(err).lower():
            raise
        logger.warning(
            "%s holds non-tensor Python objects; reading it with weights_only=False", path
        )
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path}: expected a dict, found a {type(checkpoint).__name__}")
    if "model_state" not in checkpoint:
        if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
            return {"model_state": checkpoint}
        raise ValueError(
            f"{path}: not a checkpoint (no 'model_state'; keys {sorted(checkpoint)[:10]})"
        )
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
