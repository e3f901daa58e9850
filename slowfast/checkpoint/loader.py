"""The one loading entry for model weights: read a file in its format, then fit its state dict
to the model.

Formats: PySlowFast / our ``.pyth`` (:mod:`slowfast.checkpoint.io`; also bare state dicts such
as torchvision's), Caffe2 ``.pkl`` (:mod:`slowfast.checkpoint.caffe2`, CHECKPOINT_TYPE
``caffe2``), ``*.safetensors`` weights (:mod:`slowfast.checkpoint.safetensors_file`, by the
file's suffix whatever CHECKPOINT_TYPE says), and 2-D weights inflated to 3-D
(:mod:`slowfast.checkpoint.inflate`, TRAIN.CHECKPOINT_INFLATE; after reading any format).
Every path ends in the model's own layout: ``module.`` prefix as the model has it, sub-BN
layers expanded (:mod:`slowfast.checkpoint.sub_bn`), PySlowFast's name patterns cleared.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from slowfast.checkpoint import caffe2
from slowfast.checkpoint.inflate import inflate_state_dict
from slowfast.checkpoint.io import read_checkpoint
from slowfast.checkpoint.mismatch import align_prefix, clear_names, model_prefix, strip_prefix
from slowfast.checkpoint.safetensors_file import is_safetensors, read_safetensors
from slowfast.checkpoint.sub_bn import bn_to_sub_bn_state, exact_split_stats, sub_bn_to_bn_state

CHECKPOINT_TYPES = ("pytorch", "caffe2")


def read_weights(
    path: str, model_state: Mapping[str, Any], checkpoint_type: str = "pytorch"
) -> dict[str, Any]:
    """Read ``path`` as a ``.pyth``-layout dict (``model_state`` and whatever else it holds).

    ``checkpoint_type`` is TRAIN/TEST.CHECKPOINT_TYPE: ``pytorch`` (a torch file) or ``caffe2``
    (a ``.pkl`` of blobs, converted for the model whose state dict is ``model_state``). A
    ``*.safetensors`` file is read as such: it always holds PyTorch names. No reader runs code
    from the file (:mod:`slowfast.checkpoint.safe_pickle`).
    """
    if is_safetensors(path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"checkpoint file not found: {path}")
        return read_safetensors(path)
    if checkpoint_type == "caffe2":
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Caffe2 checkpoint file not found: {path}")
        blobs = caffe2.load_caffe2_blobs(path)
        return {"model_state": caffe2.caffe2_to_state_dict(blobs, strip_prefix(model_state))}
    if checkpoint_type != "pytorch":
        raise ValueError(
            f"checkpoint type must be one of {', '.join(CHECKPOINT_TYPES)}, got {checkpoint_type!r}"
        )
    return read_checkpoint(path)


def fit_state(
    checkpoint: Mapping[str, Any],
    model_state: Mapping[str, Any],
    inflation: bool = False,
    clear_name_pattern: Iterable[str] = (),
) -> dict[str, Any]:
    """The checkpoint's model state in the layout of ``model_state`` (see the module docstring),
    with the exact per-split sub-BN statistics when the file kept them."""
    state = align_prefix(checkpoint["model_state"], model_state)
    state = clear_names(state, clear_name_pattern)
    if inflation:
        # Inflate against the model's plain-BN view so BN statistics of sub-BN layers survive.
        state = inflate_state_dict(sub_bn_to_bn_state(state), sub_bn_to_bn_state(model_state))
    state = bn_to_sub_bn_state(state, model_state)
    saved_splits = checkpoint.get("split_bn_state") or {}
    state.update(exact_split_stats(saved_splits, state, model_state, model_prefix(model_state)))
    return state
