"""Saving and loading checkpoints in PySlowFast's format.

Files are ``OUTPUT_DIR/checkpoints/checkpoint_epoch_NNNNN.pyth`` where NNNNN is the 1-based
number of the epoch just finished (``cur_epoch + 1``, five digits). Each file is a dict:

* ``epoch``: the 0-based index of that epoch (training resumes at ``epoch + 1``);
* ``model_state``: the model's state dict without DDP's ``module.`` prefix, sub-BN layers stored
  as plain BN (``P.running_mean`` etc., PySlowFast's layout on disk);
* ``optimizer_state``, ``cfg`` (``cfg.dump()``), and ``scaler_state`` under mixed precision;
* our additions, ignored by PySlowFast: ``rng_state`` (Python, NumPy, torch CPU and CUDA
  generators, all as tensors and numbers), ``extra`` (a caller's dict, e.g. the trainer's
  counters) and ``split_bn_state`` (the per-split statistics of sub-BN layers, which the plain-BN
  layout averages, so that a resumed run continues them exactly).

A job stopped inside an epoch (preemption, :mod:`slowfast.utils.preemption`) writes
``checkpoint_epoch_NNNNN_iter_IIIIII.pyth``: epoch NNNNN (1-based) under way, IIIIII of its
iterations done. Its ``epoch`` is the last epoch *finished* (so PySlowFast, which does not know
the suffix, restarts the unfinished epoch from its start) and ``extra["resume"]`` says where
inside the epoch to continue. Such a file is deleted once a later checkpoint is written.

Everything is plain containers, numbers, strings and tensors, so files load with
``torch.load(weights_only=True)``. Writes are atomic: a hidden temporary file in the same
directory is written, flushed, fsync'ed and renamed over the final name, so a crash never leaves
a truncated file under a checkpoint name.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import torch
from fvcore.common.config import CfgNode
from torch import nn

from slowfast.config.errors import ConfigError
from slowfast.utils import distributed as du
from slowfast.utils.distributed import unwrap
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

_PREFIX = "module."
# Keys under this prefix belong to the classification head; a shape mismatch there (another
# NUM_CLASSES when fine-tuning) skips them with a warning instead of failing.
_HEAD_PREFIX = "head."
_STATS = ("running_mean", "running_var")


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's parameters do not fit the model (missing, unexpected or misshapen keys)."""


# ---------------------------------------------------------------------------------------------
# File names
# ---------------------------------------------------------------------------------------------


def get_checkpoint_dir(path_to_job: str) -> str:
    """``path_to_job/checkpoints``."""
    return os.path.join(path_to_job, "checkpoints")


def make_checkpoint_dir(path_to_job: str) -> str:
    """Create the checkpoint directory (on the master process) and return its path."""
    directory = get_checkpoint_dir(path_to_job)
    if du.is_master_proc():
        os.makedirs(directory, exist_ok=True)
    return directory


def get_path_to_checkpoint(
    path_to_job: str, epoch: int, task: str = "", iteration: int | None = None
) -> str:
    """Path of the checkpoint file numbered ``epoch`` (1-based); with ``iteration``, of the
    mid-epoch file of epoch ``epoch`` stopped after that many of its iterations."""
    name = f"checkpoint_epoch_{epoch:05d}"
    if iteration is not None:
        name += f"_iter_{iteration:06d}"
    name += ".pyth"
    if task:
        name = f"{task}_{name}"
    return os.path.join(get_checkpoint_dir(path_to_job), name)


def _progress(match: re.Match) -> tuple[int, int]:
    """(epochs finished, iterations into the next) of a checkpoint file name."""
    epoch = int(match.group(1))
    if match.group(2) is None:
        return epoch, 0
    return epoch - 1, int(match.group(2))


def _checkpoint_files(path_to_job: str, task: str = "") -> list[tuple[tuple[int, int], str]]:
    directory = get_checkpoint_dir(path_to_job)
    if not os.path.isdir(directory):
        return []
    prefix = re.escape(task + "_") if task else ""
    pattern = re.compile(rf"^{prefix}checkpoint_epoch_(\d+)(?:_iter_(\d+))?\.pyth$")
    found = []
    for name in os.listdir(directory):
        match = pattern.match(name)
        if match:
            found.append((_progress(match), os.path.join(directory, name)))
    return sorted(found)


def list_checkpoints(path_to_job: str, task: str = "") -> list[str]:
    """Checkpoint files of the job, least training first (a mid-epoch file sorts after the
    epoch before it and before the end of its own epoch)."""
    return [path for _, path in _checkpoint_files(path_to_job, task)]


def get_last_checkpoint(path_to_job: str, task: str = "") -> str | None:
    """The newest checkpoint file of the job, or None."""
    paths = list_checkpoints(path_to_job, task)
    return paths[-1] if paths else None


def _remove_older_mid_epoch(path_to_job: str, newest: str) -> None:
    """Delete the mid-epoch files that ``newest`` supersedes (they only serve a resume)."""
    for _, path in _checkpoint_files(path_to_job):
        if path != newest and "_iter_" in os.path.basename(path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                logger.info("Removed superseded mid-epoch checkpoint %s", path)


def has_checkpoint(path_to_job: str, task: str = "") -> bool:
    """Whether the job has at least one checkpoint file."""
    return bool(list_checkpoints(path_to_job, task))


def _is_period_epoch(cfg: CfgNode, cur_epoch: int, period: int, schedule: Any) -> bool:
    if cur_epoch + 1 == cfg.SOLVER.MAX_EPOCH:
        return True
    if schedule is not None:
        schedule = list(schedule)
        if schedule and isinstance(schedule[0], (list, tuple)):
            # PySlowFast's multigrid schedule: phases whose last entry is their end epoch.
            prev_end = 0
            for phase in schedule:
                end = phase[-1]
                if cur_epoch < end:
                    step = max((end - prev_end) // cfg.MULTIGRID.EVAL_FREQ + 1, 1)
                    return (end - 1 - cur_epoch) % step == 0
                prev_end = end
        else:
            return cur_epoch in {int(e) for e in schedule}
    return period > 0 and (cur_epoch + 1) % period == 0


def is_checkpoint_epoch(cfg: CfgNode, cur_epoch: int, multigrid_schedule: Any = None) -> bool:
    """Whether to save a checkpoint after 0-based epoch ``cur_epoch``.

    Always after the last epoch. Otherwise every TRAIN.CHECKPOINT_PERIOD epochs, or, when
    ``multigrid_schedule`` is given, at the epochs it names: either an iterable of 0-based epoch
    indices, or PySlowFast's list of phases (tuples ending with the phase's end epoch, with
    MULTIGRID.EVAL_FREQ checkpoints per phase).
    """
    return _is_period_epoch(cfg, cur_epoch, cfg.TRAIN.CHECKPOINT_PERIOD, multigrid_schedule)


def is_eval_epoch(cfg: CfgNode, cur_epoch: int, multigrid_schedule: Any = None) -> bool:
    """Whether to evaluate after 0-based epoch ``cur_epoch``: as :func:`is_checkpoint_epoch`
    with TRAIN.EVAL_PERIOD."""
    return _is_period_epoch(cfg, cur_epoch, cfg.TRAIN.EVAL_PERIOD, multigrid_schedule)


# ---------------------------------------------------------------------------------------------
# State-dict key conventions
# ---------------------------------------------------------------------------------------------


def _strip_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k[len(_PREFIX) :] if k.startswith(_PREFIX) else k: v for k, v in state.items()}


def _sub_bn_prefixes(keys: Iterable[str]) -> list[str]:
    """Module names of PySlowFast-layout sub-BN layers (they hold ``split_bn.running_mean``)."""
    tail = ".split_bn.running_mean"
    return [k[: -len(tail)] for k in keys if k.endswith(tail)]


def sub_bn_to_bn_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """Store each sub-BN layer as a plain BN (PySlowFast's files): ``P.running_*`` are the
    statistics of the union of the splits, computed from ``P.split_bn.running_*`` (so they are
    right even when the layer's evaluation copy ``P.bn`` was not refreshed), and
    ``P.split_bn.num_batches_tracked`` becomes ``P.num_batches_tracked``."""
    from slowfast.models.norm import aggregate_split_stats

    out = dict(state)
    for p in _sub_bn_prefixes(state):
        split_mean = state[f"{p}.split_bn.running_mean"]
        splits = split_mean.numel() // state[f"{p}.bn.running_mean"].numel()
        mean, var = aggregate_split_stats(split_mean, state[f"{p}.split_bn.running_var"], splits)
        out[f"{p}.running_mean"], out[f"{p}.running_var"] = mean, var
        if f"{p}.split_bn.num_batches_tracked" in state:
            out[f"{p}.num_batches_tracked"] = state[f"{p}.split_bn.num_batches_tracked"]
        for key in state:
            if key.startswith((f"{p}.bn.", f"{p}.split_bn.")):
                del out[key]
    return out


def bn_to_sub_bn_state(state: Mapping[str, Any], model_state: Mapping[str, Any]) -> dict[str, Any]:
    """Undo :func:`sub_bn_to_bn_state` for the model's sub-BN layers: the plain statistics go to
    ``P.bn`` and, repeated once per split, to ``P.split_bn``."""
    out = dict(state)
    for p in _sub_bn_prefixes(model_state):
        if f"{p}.split_bn.running_mean" in out or f"{p}.running_mean" not in out:
            continue
        for stat in _STATS:
            value = out.pop(f"{p}.{stat}")
            out[f"{p}.bn.{stat}"] = value
            splits = model_state[f"{p}.split_bn.{stat}"].numel() // max(value.numel(), 1)
            out[f"{p}.split_bn.{stat}"] = value.repeat(splits)
        if f"{p}.num_batches_tracked" in out:
            tracked = out.pop(f"{p}.num_batches_tracked")
            for inner in ("bn", "split_bn"):
                if f"{p}.{inner}.num_batches_tracked" in model_state:
                    out[f"{p}.{inner}.num_batches_tracked"] = tracked.clone()
    return out


def _clear_names(state: dict[str, Any], patterns: Iterable[str]) -> dict[str, Any]:
    """Remove the first occurrence of each pattern from every key (PySlowFast's rule)."""
    for pattern in patterns:
        if pattern:
            state = {k.replace(pattern, "", 1): v for k, v in state.items()}
    return state


def _describe(keys: list[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def _load_model_state(
    module: nn.Module, state: dict[str, Any], source: str, strict: bool, allow_missing: bool
) -> None:
    """Load ``state`` into ``module`` after checking every key.

    Head keys (``head.*``) that are missing, unexpected or of another shape are skipped with a
    warning. Otherwise missing keys (except ``num_batches_tracked``), unexpected keys and shape
    mismatches raise :class:`CheckpointMismatchError` when ``strict``, else are logged and
    skipped; ``allow_missing`` turns only the missing-key check into warnings (inflation).
    """
    model_state = module.state_dict()
    missing = [k for k in model_state if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in model_state]
    mismatched = {
        k: f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(model_state[k].shape)}"
        for k, v in state.items()
        if k in model_state and tuple(v.shape) != tuple(model_state[k].shape)
    }

    def is_head(key: str) -> bool:
        return key.startswith(_HEAD_PREFIX)

    head_skipped = [mismatched[k] for k in mismatched if is_head(k)]
    head_skipped += [k for k in missing + unexpected if is_head(k)]
    if head_skipped:
        logger.warning(
            "%s: head weights not loaded (kept as initialised): %s", source, _describe(head_skipped)
        )
    missing = [k for k in missing if not is_head(k)]
    unexpected = [k for k in unexpected if not is_head(k)]
    bad_shapes = [text for k, text in mismatched.items() if not is_head(k)]

    problems = []
    if missing and not allow_missing:
        problems.append(f"missing from the checkpoint ({len(missing)}): {_describe(missing)}")
    if unexpected:
        problems.append(f"not in the model ({len(unexpected)}): {_describe(unexpected)}")
    if bad_shapes:
        problems.append(f"shape mismatch ({len(bad_shapes)}): {_describe(bad_shapes)}")
    if problems and strict:
        raise CheckpointMismatchError(
            f"{source} does not fit the model:\n  " + "\n  ".join(problems)
        )
    for problem in problems:
        logger.warning("%s: skipped keys %s", source, problem)
    if missing and allow_missing:
        logger.warning(
            "%s: model weights not in the checkpoint (kept as initialised): %s",
            source,
            _describe(missing),
        )
    loadable = {k: v for k, v in state.items() if k in model_state and k not in mismatched}
    module.load_state_dict(loadable, strict=False)


# ---------------------------------------------------------------------------------------------
# RNG state
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------


def _check_plain(value: Any, where: str) -> None:
    """Refuse values that ``torch.load(weights_only=True)`` could not read back."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: key {key!r} is not a str or int")
            _check_plain(item, f"{where}[{key!r}]")
        return
    raise TypeError(
        f"{where} is a {type(value).__name__}; checkpoint extras must be tensors, numbers, "
        "strings, None, lists, tuples or dicts"
    )


def _atomic_torch_save(obj: Any, path: str) -> None:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


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
    """Write the checkpoint of 0-based epoch ``epoch`` (master process only).

    With ``iteration``, epoch ``epoch`` is unfinished: ``iteration`` of its iterations are done
    and the file is a mid-epoch one (see the module docstring). Older mid-epoch files are
    removed once the new file is in place. Returns the file's path, or None on other processes.
    ``extra`` must hold only plain values; a ``TypeError`` names the first that is not.
    """
    if not du.is_master_proc():
        return None
    extra = dict(extra or {})
    _check_plain(extra, "extra")
    raw = _strip_prefix(unwrap(model).state_dict())
    state = sub_bn_to_bn_state(raw)
    # Weights are stored in the default layout whatever MODEL.CHANNELS_LAST says, so that files
    # are the same for every layout (and for PySlowFast).
    state = {k: v.contiguous() for k, v in state.items()}
    if iteration is not None:
        extra["resume"] = {**extra.get("resume", {}), "epoch": int(epoch), "iter": int(iteration)}
    checkpoint: dict[str, Any] = {
        "epoch": int(epoch) - 1 if iteration is not None else int(epoch),
        "model_state": state,
        "optimizer_state": optimizer.state_dict(),
        "cfg": cfg.dump(),
        "rng_state": capture_rng_state(),
        "extra": extra,
    }
    split = {k: v.contiguous() for k, v in raw.items() if ".split_bn." in k}
    if split:
        checkpoint["split_bn_state"] = split
    if scaler is not None:
        checkpoint["scaler_state"] = scaler.state_dict()
    path = get_path_to_checkpoint(path_to_job, int(epoch) + 1, iteration=iteration)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _atomic_torch_save(checkpoint, path)
    logger.info("Saved checkpoint %s", path)
    _remove_older_mid_epoch(path_to_job, path)
    return path


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def read_checkpoint(path: str) -> dict[str, Any]:
    """Read a checkpoint file onto the CPU.

    Tries ``weights_only=True`` first; only a file holding other Python objects is read again
    with ``weights_only=False`` (logged: do that only with files you trust).
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
            return {"model_state": checkpoint}  # a bare state dict
        raise ValueError(
            f"{path}: not a checkpoint (no 'model_state'; keys {sorted(checkpoint)[:10]})"
        )
    return checkpoint


def _target(model: nn.Module, data_parallel: bool | None) -> nn.Module:
    if data_parallel is None:
        return unwrap(model)
    return model.module if data_parallel else model


def _align_prefix(state: dict[str, Any], model_keys: list[str]) -> dict[str, Any]:
    """Give the checkpoint's keys the model's ``module.`` convention."""
    state = _strip_prefix(state)
    if model_keys and all(k.startswith(_PREFIX) for k in model_keys):
        state = {_PREFIX + k: v for k, v in state.items()}
    return state


def _exact_split_stats(
    checkpoint: Mapping[str, Any], state: Mapping[str, Any], model_state: Mapping[str, Any]
) -> dict[str, Any]:
    """The saved per-split sub-BN statistics that fit the model (instead of the average
    repeated per split that :func:`bn_to_sub_bn_state` gives)."""
    saved = checkpoint.get("split_bn_state") or {}
    prefixed = next(iter(model_state), "").startswith(_PREFIX)
    out = {}
    for key, value in saved.items():
        name = _PREFIX + key if prefixed else key
        if name in state and name in model_state and model_state[name].shape == value.shape:
            out[name] = value
    return out


def _apply_checkpoint(
    checkpoint: dict[str, Any],
    source: str,
    model: nn.Module,
    data_parallel: bool | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scaler: Any = None,
    inflation: bool = False,
    epoch_reset: bool = False,
    clear_name_pattern: Iterable[str] = (),
    strict: bool = True,
) -> int:
    """Load a read checkpoint into the model (and optimizer/scaler); returns its epoch or -1."""
    module = _target(model, data_parallel)
    model_state = module.state_dict()
    state = _align_prefix(dict(checkpoint["model_state"]), list(model_state))
    state = _clear_names(state, clear_name_pattern)
    if inflation:
        from slowfast.models.inflate import inflate_state_dict

        # Inflate against the model's plain-BN view so BN statistics of sub-BN layers survive.
        plain_view = sub_bn_to_bn_state(model_state)
        state = inflate_state_dict(sub_bn_to_bn_state(state), plain_view)
    state = bn_to_sub_bn_state(state, model_state)
    state.update(_exact_split_stats(checkpoint, state, model_state))
    _load_model_state(module, state, source, strict=strict, allow_missing=inflation)

    if "epoch" not in checkpoint or epoch_reset:
        return -1
    if optimizer is not None:
        if "optimizer_state" not in checkpoint:
            raise ValueError(f"{source}: has no optimizer_state to resume from")
        try:
            optimizer.load_state_dict(checkpoint["optimizer_state"])
        except (ValueError, KeyError) as err:
            raise ValueError(
                f"{source}: optimizer state does not fit this optimizer: {err}"
            ) from err
    if scaler is not None:
        if "scaler_state" in checkpoint:
            scaler.load_state_dict(checkpoint["scaler_state"])
        else:
            logger.warning("%s: no scaler_state (saved without mixed precision)", source)
    return int(checkpoint["epoch"])


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
    """Load weights (and optimizer/scaler state) from a file; returns its 0-based epoch.

    Returns -1 for files without an epoch (Caffe2 weights, bare state dicts) and with
    ``epoch_reset``, in which case the optimizer and scaler are left alone. ``data_parallel``
    None unwraps DDP/DataParallel automatically; True/False force PySlowFast's choice.
    ``inflation`` turns 2D weights into 3D (``slowfast.models.inflate``); ``convert_from_caffe2``
    reads a Caffe2 ``.pkl`` (``slowfast.utils.c2_model_loading``), then inflates if asked.
    See :func:`_load_model_state` for what counts as a mismatch.
    """
    logger.info("Loading weights from %s", path_to_checkpoint)
    if convert_from_caffe2:
        if not os.path.isfile(path_to_checkpoint):
            raise FileNotFoundError(f"Caffe2 checkpoint file not found: {path_to_checkpoint}")
        from slowfast.utils.c2_model_loading import caffe2_to_state_dict, load_caffe2_blobs

        module = _target(model, data_parallel)
        blobs = load_caffe2_blobs(path_to_checkpoint)
        state = caffe2_to_state_dict(blobs, _strip_prefix(module.state_dict()))
        checkpoint = {"model_state": state}
    else:
        checkpoint = read_checkpoint(path_to_checkpoint)
    return _apply_checkpoint(
        checkpoint,
        path_to_checkpoint,
        model,
        data_parallel=data_parallel,
        optimizer=optimizer,
        scaler=scaler,
        inflation=inflation,
        epoch_reset=epoch_reset,
        clear_name_pattern=clear_name_pattern,
        strict=strict,
    )


@dataclass
class ResumeInfo:
    """What :func:`auto_resume` restored."""

    path: str
    epoch: int  # 0-based epoch stored in the file (the last one finished)
    start_epoch: int  # where training continues (a mid-epoch file: the epoch it stopped in)
    extra: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # unreadable newer files
    start_iter: int = 0  # iterations of start_epoch already done (mid-epoch files)


def _newest_readable(path_to_job: str) -> tuple[str, dict[str, Any], list[str]] | None:
    """The newest checkpoint that reads cleanly, with the newer ones skipped; None if no files.

    Raises when every checkpoint file is unreadable (rather than silently start over).
    """
    paths = list_checkpoints(path_to_job)
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
            f"none of the {len(paths)} checkpoints in {get_checkpoint_dir(path_to_job)} can be "
            f"read; move them away to start over"
        )
    return None


def auto_resume(
    cfg: CfgNode, model: nn.Module, optimizer: torch.optim.Optimizer | None, scaler: Any = None
) -> ResumeInfo | None:
    """Resume from the newest readable checkpoint in OUTPUT_DIR, if there is one.

    Restores model, optimizer, scaler and the random generators (every process gets the master's
    generator state, as PySlowFast's shared RNG_SEED gives them the same seed).
    """
    found = _newest_readable(cfg.OUTPUT_DIR)
    if found is None:
        return None
    path, checkpoint, skipped = found
    logger.info("Resuming from %s", path)
    epoch = _apply_checkpoint(
        checkpoint,
        path,
        model,
        optimizer=optimizer,
        scaler=scaler,
        clear_name_pattern=cfg.TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN,
    )
    if "rng_state" in checkpoint:
        restore_rng_state(checkpoint["rng_state"])
    extra = dict(checkpoint.get("extra") or {})
    resume = extra.get("resume")
    if resume:
        return ResumeInfo(path, epoch, int(resume["epoch"]), extra, skipped, int(resume["iter"]))
    return ResumeInfo(path, epoch, epoch + 1, extra, skipped)


def _require_file(key: str, path: str) -> None:
    if not os.path.isfile(path):
        raise ConfigError(f"{key}: checkpoint file not found: {path}")


def load_train_checkpoint(
    cfg: CfgNode, model: nn.Module, optimizer: torch.optim.Optimizer | None, scaler: Any = None
) -> int:
    """Initialise training; returns the 0-based epoch to start from (PySlowFast's rules).

    1. TRAIN.AUTO_RESUME and a checkpoint in OUTPUT_DIR: resume from it (:func:`auto_resume`).
    2. TRAIN.CHECKPOINT_FILE_PATH: load it with TRAIN.CHECKPOINT_TYPE / CHECKPOINT_INFLATE /
       CHECKPOINT_EPOCH_RESET / CHECKPOINT_CLEAR_NAME_PATTERN; start after its epoch.
    3. Otherwise start at epoch 0 from the initialised weights.
    """
    if cfg.TRAIN.AUTO_RESUME:
        info = auto_resume(cfg, model, optimizer, scaler)
        if info is not None:
            return info.start_epoch
    path = cfg.TRAIN.CHECKPOINT_FILE_PATH
    if path:
        _require_file("TRAIN.CHECKPOINT_FILE_PATH", path)
        epoch = load_checkpoint(
            path,
            model,
            optimizer=optimizer,
            scaler=scaler,
            inflation=cfg.TRAIN.CHECKPOINT_INFLATE,
            convert_from_caffe2=cfg.TRAIN.CHECKPOINT_TYPE == "caffe2",
            epoch_reset=cfg.TRAIN.CHECKPOINT_EPOCH_RESET,
            clear_name_pattern=cfg.TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN,
        )
        return epoch + 1
    return 0


def load_test_checkpoint(cfg: CfgNode, model: nn.Module) -> str | None:
    """Load the weights to test (PySlowFast's order); returns the file used, or None.

    TEST.CHECKPOINT_FILE_PATH, else the newest readable checkpoint in OUTPUT_DIR, else
    TRAIN.CHECKPOINT_FILE_PATH, else none (a warning: the model stays randomly initialised).
    """
    if cfg.TEST.CHECKPOINT_FILE_PATH:
        path = cfg.TEST.CHECKPOINT_FILE_PATH
        _require_file("TEST.CHECKPOINT_FILE_PATH", path)
        load_checkpoint(path, model, convert_from_caffe2=cfg.TEST.CHECKPOINT_TYPE == "caffe2")
        return path
    found = _newest_readable(cfg.OUTPUT_DIR)
    if found is not None:
        path, checkpoint, _ = found
        _apply_checkpoint(checkpoint, path, model)
        return path
    if cfg.TRAIN.CHECKPOINT_FILE_PATH:
        path = cfg.TRAIN.CHECKPOINT_FILE_PATH
        _require_file("TRAIN.CHECKPOINT_FILE_PATH", path)
        load_checkpoint(path, model, convert_from_caffe2=cfg.TRAIN.CHECKPOINT_TYPE == "caffe2")
        return path
    logger.warning("No checkpoint to test: the model keeps its random initialisation")
    return None
