"""What a run loads when it starts, by PySlowFast's config keys (the config edge of the package).

Training: TRAIN.AUTO_RESUME and a checkpoint in OUTPUT_DIR resume from the newest readable one;
else TRAIN.CHECKPOINT_FILE_PATH initialises (CHECKPOINT_TYPE, CHECKPOINT_INFLATE,
CHECKPOINT_EPOCH_RESET, CHECKPOINT_CLEAR_NAME_PATTERN); else training starts from scratch.
Testing: TEST.CHECKPOINT_FILE_PATH, else the newest readable checkpoint in OUTPUT_DIR, else
TRAIN.CHECKPOINT_FILE_PATH, else none (a warning: the model keeps its initialisation).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from fvcore.common.config import CfgNode
from torch import nn

from slowfast.checkpoint.checkpointer import Checkpointer
from slowfast.checkpoint.paths import get_checkpoint_dir
from slowfast.config.errors import ConfigError
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)


def _require_file(key: str, path: str) -> None:
    if not os.path.isfile(path):
        raise ConfigError(f"{key}: checkpoint file not found: {path}")


def build_checkpointer(cfg: CfgNode, model: nn.Module, **checkpointables: Any) -> Checkpointer:
    """A :class:`Checkpointer` on ``OUTPUT_DIR/checkpoints`` that clears
    TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN from the names it loads."""
    return Checkpointer(
        model,
        get_checkpoint_dir(cfg.OUTPUT_DIR),
        clear_name_pattern=cfg.TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN,
        **checkpointables,
    )


def start_position(extras: Mapping[str, Any], resumed: bool) -> tuple[int, int]:
    """(0-based epoch to start at, iterations of it already done) after loading ``extras``:
    after the file's epoch, or inside the next one for a resumed mid-epoch file."""
    resume = (extras.get("extra") or {}).get("resume") if resumed else None
    if resume:
        return int(resume["epoch"]), int(resume["iter"])
    return (int(extras["epoch"]) + 1 if "epoch" in extras else 0), 0


def resume_or_load(cfg: CfgNode, checkpointer: Checkpointer) -> tuple[int, int]:
    """Initialise training by the TRAIN keys (see the module docstring); returns
    :func:`start_position`. A missing TRAIN.CHECKPOINT_FILE_PATH is a ConfigError."""
    path = cfg.TRAIN.CHECKPOINT_FILE_PATH
    resume = bool(cfg.TRAIN.AUTO_RESUME)
    if path and not os.path.isfile(path) and not (resume and checkpointer.has_checkpoint()):
        _require_file("TRAIN.CHECKPOINT_FILE_PATH", path)
    extras = checkpointer.resume_or_load(
        path,
        resume=resume,
        checkpoint_type=cfg.TRAIN.CHECKPOINT_TYPE,
        inflation=cfg.TRAIN.CHECKPOINT_INFLATE,
        epoch_reset=cfg.TRAIN.CHECKPOINT_EPOCH_RESET,
    )
    return start_position(extras, checkpointer.resumed)


def load_test_weights(cfg: CfgNode, model: nn.Module) -> str | None:
    """Load the weights to test (see the module docstring); returns the file used, or None."""
    checkpointer = Checkpointer(model, get_checkpoint_dir(cfg.OUTPUT_DIR))
    if cfg.TEST.CHECKPOINT_FILE_PATH:
        path = cfg.TEST.CHECKPOINT_FILE_PATH
        _require_file("TEST.CHECKPOINT_FILE_PATH", path)
        checkpointer.load(path, [], checkpoint_type=cfg.TEST.CHECKPOINT_TYPE)
        return path
    if checkpointer.load_newest([]) is not None:
        return checkpointer.loaded_from
    if cfg.TRAIN.CHECKPOINT_FILE_PATH:
        path = cfg.TRAIN.CHECKPOINT_FILE_PATH
        _require_file("TRAIN.CHECKPOINT_FILE_PATH", path)
        checkpointer.load(path, [], checkpoint_type=cfg.TRAIN.CHECKPOINT_TYPE)
        return path
    logger.warning("No checkpoint to test: the model keeps its random initialisation")
    return None
