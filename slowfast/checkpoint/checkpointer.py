"""The :class:`Checkpointer`: saves a model and its checkpointables to one file, loads them back.

A file is a dict in PySlowFast's ``.pyth`` layout:

* ``model_state``: the model's state dict without DDP's ``module.`` prefix, sub-BN layers in
  the plain-BN layout (:mod:`slowfast.checkpoint.sub_bn`), tensors contiguous (whatever
  MODEL.CHANNELS_LAST says), so files are the same for every layout and for PySlowFast;
* one entry per checkpointable: ``<name>_state`` (``optimizer_state``, ``scaler_state``,
  ``rng_state``) unless it sets ``checkpoint_key`` (the trainer's counters: ``extra``);
* the extras given to :meth:`Checkpointer.save` (``epoch``, ``cfg``, ...);
* ``split_bn_state``: the per-split sub-BN statistics, so that a resume continues them exactly.

PySlowFast reads ``epoch``, ``model_state``, ``optimizer_state``, ``cfg`` and ``scaler_state``
and ignores the rest. ``epoch`` is the 0-based index of the last epoch finished; a mid-epoch
file (:meth:`Checkpointer.save_epoch` with ``iteration``) also holds ``extra["resume"]`` saying
where inside the next epoch to continue, so PySlowFast restarts that epoch from its start.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from torch import nn

from slowfast.checkpoint.io import atomic_save, check_plain, read_newest
from slowfast.checkpoint.loader import fit_state, read_weights
from slowfast.checkpoint.mismatch import load_model_state, strip_prefix
from slowfast.checkpoint.paths import (
    SUFFIX,
    checkpoint_name,
    list_checkpoint_files,
    remove_superseded_mid_epoch,
)
from slowfast.checkpoint.sub_bn import split_bn_state, sub_bn_to_bn_state
from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)


class Checkpointer:
    """Saves and restores ``model`` and named checkpointables (objects with ``state_dict`` and
    ``load_state_dict``: optimizer, grad scaler, :class:`~.checkpointables.RNGState`, the
    trainer's counters, hooks) in ``save_dir``.

    ``model`` may be wrapped in DDP / DataParallel (it is unwrapped at each use, so a re-wrapped
    model stays the same). ``clear_name_pattern`` and ``strict`` apply to every load (see
    :func:`~slowfast.checkpoint.mismatch.load_model_state`). Only the master process writes.
    """

    # Entries without which a resume cannot continue; other missing entries only warn.
    REQUIRED = ("optimizer",)

    def __init__(
        self,
        model: nn.Module,
        save_dir: str,
        *,
        clear_name_pattern: Iterable[str] = (),
        strict: bool = True,
        **checkpointables: Any,
    ) -> None:
        self.model = model
        self.save_dir = save_dir
        self.clear_name_pattern = tuple(clear_name_pattern)
        self.strict = strict
        self.checkpointables = dict(checkpointables)
        self.loaded_from: str | None = None  # the file the last load read
        self.skipped: list[str] = []  # unreadable newer files the last resume passed over
        self.resumed = False  # whether the last resume_or_load resumed from save_dir

    # -- files --------------------------------------------------------------------------------
    def key_of(self, name: str) -> str:
        """The file entry of checkpointable ``name``."""
        return getattr(self.checkpointables[name], "checkpoint_key", None) or f"{name}_state"

    def get_all_checkpoint_files(self) -> list[str]:
        """The checkpoint files in ``save_dir``, least training first."""
        return list_checkpoint_files(self.save_dir)

    def get_checkpoint_file(self) -> str | None:
        """The newest checkpoint file in ``save_dir`` (readable or not), or None."""
        files = self.get_all_checkpoint_files()
        return files[-1] if files else None

    def has_checkpoint(self) -> bool:
        """Whether ``save_dir`` holds a checkpoint file."""
        return bool(self.get_all_checkpoint_files())

    # -- saving -------------------------------------------------------------------------------
    def _collect(self, extra: dict[str, Any]) -> dict[str, Any]:
        raw = strip_prefix(du.unwrap(self.model).state_dict())
        data: dict[str, Any] = {
            "model_state": {k: v.contiguous() for k, v in sub_bn_to_bn_state(raw).items()}
        }
        for name, obj in self.checkpointables.items():
            key = self.key_of(name)
            if key in data or key in extra:
                raise ValueError(f"checkpoint entry {key!r} is given twice")
            data[key] = obj.state_dict()
            check_plain(data[key], key)
        for key, value in extra.items():
            check_plain(value, key)
            data[key] = value
        splits = split_bn_state(raw)
        if splits:
            data["split_bn_state"] = splits
        return data

    def _write(self, name: str, data: dict[str, Any]) -> str:
        path = os.path.join(self.save_dir, name if name.endswith(SUFFIX) else name + SUFFIX)
        atomic_save(data, path)
        logger.info("Saved checkpoint %s", path)
        remove_superseded_mid_epoch(self.save_dir, path)
        return path

    def save(self, name: str, **extra: Any) -> str | None:
        """Write ``save_dir/name.pyth`` with the model, every checkpointable and ``extra``
        (plain values only: a TypeError names the first that is not). Mid-epoch files that
        this one supersedes are removed. Returns the path, or None on other processes."""
        if not du.is_master_proc():
            return None
        return self._write(name, self._collect(extra))

    def save_epoch(
        self,
        epoch: int,
        iteration: int | None = None,
        resume: dict[str, Any] | None = None,
        **extra: Any,
    ) -> str | None:
        """Write the checkpoint of 0-based epoch ``epoch`` under its PySlowFast name.

        With ``iteration``, epoch ``epoch`` is unfinished after that many iterations: the file
        is a mid-epoch one, its ``epoch`` the one before, and ``extra["resume"]`` holds
        ``resume`` (the trainer's within-epoch totals) with the epoch and iteration.
        """
        if not du.is_master_proc():
            return None
        extra["epoch"] = int(epoch) - 1 if iteration is not None else int(epoch)
        data = self._collect(extra)
        if iteration is not None:
            inner = dict(data.get("extra") or {})
            position = {"epoch": int(epoch), "iter": int(iteration)}
            inner["resume"] = {**inner.get("resume", {}), **(resume or {}), **position}
            check_plain(inner, "extra")
            data["extra"] = inner
        return self._write(checkpoint_name(int(epoch) + 1, iteration), data)

    # -- loading ------------------------------------------------------------------------------
    def load(
        self,
        path: str,
        checkpointables: Iterable[str] | None = None,
        *,
        checkpoint_type: str = "pytorch",
        inflation: bool = False,
        epoch_reset: bool = False,
    ) -> dict[str, Any]:
        """Load the model's weights from ``path``, then the named checkpointables (all when
        None); returns the file's entries other than the model's (``epoch``, ``cfg``, ``extra``,
        the checkpointables' states, ...).

        ``checkpoint_type`` and ``inflation`` pick the format
        (:func:`~slowfast.checkpoint.loader.read_weights`). A file without ``epoch``, or
        ``epoch_reset``, gives weights only: no checkpointable is restored and no ``epoch`` is
        returned (PySlowFast's rule for starting a new training from weights).
        """
        logger.info("Loading weights from %s", path)
        module = du.unwrap(self.model)
        return self._apply(
            read_weights(path, module.state_dict(), checkpoint_type),
            path,
            checkpointables,
            inflation=inflation,
            epoch_reset=epoch_reset,
        )

    def _apply(
        self,
        checkpoint: dict[str, Any],
        source: str,
        checkpointables: Iterable[str] | None,
        inflation: bool = False,
        epoch_reset: bool = False,
    ) -> dict[str, Any]:
        module = du.unwrap(self.model)
        state = fit_state(checkpoint, module.state_dict(), inflation, self.clear_name_pattern)
        load_model_state(module, state, source, strict=self.strict, allow_missing=inflation)
        self.loaded_from = source
        rest = {k: v for k, v in checkpoint.items() if k not in ("model_state", "split_bn_state")}
        if "epoch" not in checkpoint or epoch_reset:
            rest.pop("epoch", None)
            return rest
        names = self.checkpointables if checkpointables is None else list(checkpointables)
        for name in names:
            key = self.key_of(name)
            if key not in checkpoint:
                if name in self.REQUIRED:
                    raise ValueError(f"{source}: has no {key} to resume from")
                logger.warning("%s: no %s; the %s keeps its current state", source, key, name)
                continue
            try:
                self.checkpointables[name].load_state_dict(checkpoint[key])
            except (ValueError, KeyError) as err:
                raise ValueError(f"{source}: {name} state does not fit this {name}: {err}") from err
        return rest

    def load_newest(self, checkpointables: Iterable[str] | None = None) -> dict[str, Any] | None:
        """Load the newest readable file of ``save_dir`` (newer unreadable ones are logged and
        listed in ``skipped``); returns its extras, or None when there is no file. Raises when
        no file can be read."""
        found = read_newest(self.get_all_checkpoint_files(), self.save_dir)
        if found is None:
            return None
        path, checkpoint, self.skipped = found
        return self._apply(checkpoint, path, checkpointables)

    def resume_or_load(
        self,
        path: str,
        resume: bool = True,
        *,
        checkpoint_type: str = "pytorch",
        inflation: bool = False,
        epoch_reset: bool = False,
    ) -> dict[str, Any]:
        """With ``resume`` and a checkpoint in ``save_dir``: resume from the newest readable one
        (every checkpointable). Otherwise load ``path`` if given, restoring only the optimizer
        and scaler (when it has an epoch and not ``epoch_reset``). Returns the extras; ``{}``
        when nothing was loaded. The directory is searched and read once."""
        self.resumed = False
        if resume:
            extras = self.load_newest()
            if extras is not None:
                self.resumed = True
                logger.info("Resuming from %s", self.loaded_from)
                return extras
        if not path:
            return {}
        init = [n for n in ("optimizer", "scaler") if n in self.checkpointables]
        return self.load(
            path,
            init,
            checkpoint_type=checkpoint_type,
            inflation=inflation,
            epoch_reset=epoch_reset,
        )
