"""Fitting a file's weights to a model: key prefixes, PySlowFast's name clearing, and strict-load
diagnostics that name every missing, unexpected or misshapen key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from torch import nn

from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

PREFIX = "module."
# Keys under this prefix belong to the classification head; a shape mismatch there (another
# NUM_CLASSES when fine-tuning) skips them with a warning instead of failing.
HEAD_PREFIX = "head."


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's parameters do not fit the model (missing, unexpected or misshapen keys)."""


def strip_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` without DDP's ``module.`` prefix on its keys."""
    return {k.removeprefix(PREFIX): v for k, v in state.items()}


def model_prefix(model_keys: Iterable[str]) -> str:
    """``module.`` when every key of the model carries it (a wrapper), else ``""``."""
    keys = list(model_keys)
    return PREFIX if keys and all(k.startswith(PREFIX) for k in keys) else ""


def align_prefix(state: Mapping[str, Any], model_keys: Iterable[str]) -> dict[str, Any]:
    """Give the checkpoint's keys the model's ``module.`` convention."""
    prefix = model_prefix(model_keys)
    return {prefix + k: v for k, v in strip_prefix(state).items()}


def clear_names(state: dict[str, Any], patterns: Iterable[str]) -> dict[str, Any]:
    """Remove the first occurrence of each pattern from every key (PySlowFast's rule for
    TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN)."""
    for pattern in patterns:
        if pattern:
            state = {k.replace(pattern, "", 1): v for k, v in state.items()}
    return state


def _describe(keys: list[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_model_state(
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
        return key.startswith(HEAD_PREFIX)

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
