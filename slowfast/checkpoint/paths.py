"""Checkpoint file names and discovery (PySlowFast's names).

Files are ``OUTPUT_DIR/checkpoints/checkpoint_epoch_NNNNN.pyth`` where NNNNN is the 1-based
number of the epoch just finished (five digits). A job stopped inside an epoch writes
``checkpoint_epoch_NNNNN_iter_IIIIII.pyth``: epoch NNNNN (1-based) under way, IIIIII of its
iterations done. Listing orders files by training done, so a mid-epoch file sorts after the
epoch before it and before the end of its own epoch.
"""

from __future__ import annotations

import contextlib
import os
import re

from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

SUFFIX = ".pyth"


def get_checkpoint_dir(path_to_job: str) -> str:
    """``path_to_job/checkpoints``, where a job's checkpoints live."""
    return os.path.join(path_to_job, "checkpoints")


def checkpoint_name(epoch: int, iteration: int | None = None, task: str = "") -> str:
    """File name of the checkpoint numbered ``epoch`` (1-based); with ``iteration``, of the
    mid-epoch file of epoch ``epoch`` stopped after that many of its iterations."""
    name = f"checkpoint_epoch_{epoch:05d}"
    if iteration is not None:
        name += f"_iter_{iteration:06d}"
    name += SUFFIX
    return f"{task}_{name}" if task else name


def get_path_to_checkpoint(
    path_to_job: str, epoch: int, task: str = "", iteration: int | None = None
) -> str:
    """Path of the checkpoint file of the job named by :func:`checkpoint_name`."""
    return os.path.join(get_checkpoint_dir(path_to_job), checkpoint_name(epoch, iteration, task))


def _progress(match: re.Match) -> tuple[int, int]:
    """(epochs finished, iterations into the next) of a checkpoint file name."""
    epoch = int(match.group(1))
    if match.group(2) is None:
        return epoch, 0
    return epoch - 1, int(match.group(2))


def list_checkpoint_files(directory: str, task: str = "") -> list[str]:
    """Checkpoint files in ``directory``, least training first."""
    if not os.path.isdir(directory):
        return []
    prefix = re.escape(task + "_") if task else ""
    pattern = re.compile(rf"^{prefix}checkpoint_epoch_(\d+)(?:_iter_(\d+))?\.pyth$")
    found = []
    for name in os.listdir(directory):
        match = pattern.match(name)
        if match:
            found.append((_progress(match), os.path.join(directory, name)))
    return [path for _, path in sorted(found)]


def list_checkpoints(path_to_job: str, task: str = "") -> list[str]:
    """Checkpoint files of the job, least training first."""
    return list_checkpoint_files(get_checkpoint_dir(path_to_job), task)


def get_last_checkpoint(path_to_job: str, task: str = "") -> str | None:
    """The newest checkpoint file of the job (readable or not), or None."""
    paths = list_checkpoints(path_to_job, task)
    return paths[-1] if paths else None


def has_checkpoint(path_to_job: str, task: str = "") -> bool:
    """Whether the job has at least one checkpoint file."""
    return bool(list_checkpoints(path_to_job, task))


def is_mid_epoch(path: str) -> bool:
    """Whether ``path`` names a mid-epoch checkpoint file."""
    return "_iter_" in os.path.basename(path)


def remove_superseded_mid_epoch(directory: str, newest: str) -> None:
    """Delete the mid-epoch files that ``newest`` supersedes (they only serve a resume)."""
    for path in list_checkpoint_files(directory):
        if path != newest and is_mid_epoch(path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                logger.info("Removed superseded mid-epoch checkpoint %s", path)
