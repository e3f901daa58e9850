"""PySlowFast's ``save_checkpoint`` / ``load_checkpoint`` / ``load_train_checkpoint`` /
``load_test_checkpoint`` signatures, each over a one-off
:class:`~slowfast.checkpoint.checkpointer.Checkpointer`, for code written against PySlowFast's
``slowfast/utils/checkpoint.py`` (also importable under that name) and for one-line saves and
loads in tests and tools."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from fvcore.common.config import CfgNode
from torch import nn

from slowfast.checkpoint.checkpointables import RNGState
from slowfast.checkpoint.checkpointer import Checkpointer
from slowfast.checkpoint.paths import get_checkpoint_dir
from slowfast.checkpoint.startup import build_checkpointer, load_test_weights, resume_or_load
from slowfast.utils.distributed import unwrap


def save_checkpoint(
    path_to_job: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    cfg: CfgNode,
    scaler: Any = None,
    extra: Mapping[str, Any] | None = None,
    iteration: int | None = None,
) -> str | None:
    """Write the checkpoint of 0-based epoch ``epoch`` of the job in ``path_to_job`` (model,
    optimizer, scaler if given, RNG, ``cfg.dump()`` and ``extra``); with ``iteration``, a
    mid-epoch file (``extra["resume"]`` kept and completed). Master process only: returns the
    path, or None elsewhere."""
    extra = dict(extra or {})
    resume = extra.pop("resume", None) if iteration is not None else None
    checkpointables: dict[str, Any] = {"optimizer": optimizer, "rng": RNGState()}
    if scaler is not None:
        checkpointables["scaler"] = scaler
    checkpointer = Checkpointer(model, get_checkpoint_dir(path_to_job), **checkpointables)
    return checkpointer.save_epoch(epoch, iteration, resume=resume, cfg=cfg.dump(), extra=extra)


def load_checkpoint(
    path_to_checkpoint: str,
    model: nn.Module,
    data_parallel: bool | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scaler: Any = None,
    inflation: bool = False,
    convert_from_caffe2: bool = False,
    epoch_reset: bool = False,
    clear_name_pattern: Iterable[str] = (),
    strict: bool = True,
) -> int:
    """Load weights (and optimizer / scaler state) from a file; returns its 0-based epoch, or
    -1 for files without one (Caffe2 weights, bare state dicts) and with ``epoch_reset`` (the
    optimizer and scaler are then left alone). ``data_parallel`` None unwraps DDP /
    DataParallel; True / False force PySlowFast's choice (load into ``model.module`` or
    ``model``). ``convert_from_caffe2`` reads a Caffe2 ``.pkl``; ``inflation`` turns 2-D weights
    into 3-D."""
    target = unwrap(model) if data_parallel is None else (model.module if data_parallel else model)
    checkpointables = {
        name: obj for name, obj in (("optimizer", optimizer), ("scaler", scaler)) if obj is not None
    }
    checkpointer = Checkpointer(
        target, "", clear_name_pattern=clear_name_pattern, strict=strict, **checkpointables
    )
    extras = checkpointer.load(
        path_to_checkpoint,
        checkpoint_type="caffe2" if convert_from_caffe2 else "pytorch",
        inflation=inflation,
        epoch_reset=epoch_reset,
    )
    return int(extras.get("epoch", -1))


def load_train_checkpoint(
    cfg: CfgNode, model: nn.Module, optimizer: torch.optim.Optimizer, scaler: Any = None
) -> int:
    """Initialise training by the TRAIN keys (auto-resume from OUTPUT_DIR, else
    TRAIN.CHECKPOINT_FILE_PATH, else nothing); returns the 0-based epoch to start at.

    A mid-epoch file resumes at the start of its epoch here, as in PySlowFast (this project's
    own loop continues inside the epoch: :func:`~slowfast.checkpoint.startup.resume_or_load`).
    """
    checkpointables: dict[str, Any] = {"optimizer": optimizer}
    if scaler is not None:
        checkpointables["scaler"] = scaler
    checkpointer = build_checkpointer(cfg, unwrap(model), **checkpointables)
    return resume_or_load(cfg, checkpointer)[0]


def load_test_checkpoint(cfg: CfgNode, model: nn.Module) -> None:
    """Load the weights to test in PySlowFast's order (TEST.CHECKPOINT_FILE_PATH, the newest
    checkpoint in OUTPUT_DIR, TRAIN.CHECKPOINT_FILE_PATH, else none)."""
    load_test_weights(cfg, unwrap(model))
