"""Caffe2 ``.pkl`` weights (the original SlowFast / non-local model zoo) to PyTorch state dicts.

The checkpoint format of TRAIN/TEST.CHECKPOINT_TYPE ``caffe2``, read by
:func:`slowfast.checkpoint.loader.read_weights`.

A Caffe2 file is a pickle (written by Python 2, hence ``encoding="latin1"``) of a dict whose
``"blobs"`` entry maps blob names to numpy arrays. Blob names follow the Caffe2 ResNet code
(``t_`` prefix: Fast pathway, ``pathway1``; none: ``pathway0``):

* ``conv1_w``, ``res_conv1_bn_*``  ->  ``s1.pathway{p}_stem.conv.weight``, ``...stem.bn.*``
* ``res{S}_{i}_branch1_w``, ``res{S}_{i}_branch1_bn_*``  ->  ``s{S}.pathway{p}_res{i}.branch1``,
  ``...branch1_bn``
* ``res{S}_{i}_branch2{x}_w``, ``..._branch2{x}_bn_*``  ->  ``...branch2.{x}``, ``...{x}_bn``
* ``nonlocal_conv{S}_{i}_{theta,phi,g,out}_{w,b}``, ``..._bn_*``  ->
  ``s{S}.pathway0_nonlocal{i}.conv_{...}``, ``s{S}.pathway0_nonlocal{i}.bn``
* ``t_pool1_subsample_w``, ``..._bn_*``  ->  ``s1_fuse.conv_f2s``, ``s1_fuse.bn``
* ``t_res{S}_{i}_branch2c_bn_subsample_w``, ``..._bn_*``  ->  ``s{S}_fuse.conv_f2s``, ``...bn``
* ``pred_w``, ``pred_b``  ->  ``head.projection.weight``, ``head.projection.bias``

BN suffixes: ``_s`` scale, ``_b`` shift, ``_rm`` running mean, ``_riv`` running variance.
Optimiser blobs (``*_momentum``, ``lr``, ``model_iter``) are dropped on loading.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from slowfast.checkpoint.safe_pickle import UnsafeCheckpointError, admit_unsafe, load_data_pickle
from slowfast.checkpoint.sub_bn import sub_bn_entries
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

_BN_SUFFIX = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}
_PARAM_SUFFIX = {"w": "weight", "b": "bias"}


def _path(fast: str | None) -> str:
    return "pathway1" if fast else "pathway0"


# (pattern over the whole Caffe2 name, function of the match -> PyTorch name). Tried in order.
_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"(t_)?(?:res_)?conv1_(w|b)"),
        lambda m: f"s1.{_path(m[1])}_stem.conv.{_PARAM_SUFFIX[m[2]]}",
    ),
    (
        re.compile(r"(t_)?res_conv1_bn_(s|b|rm|riv)"),
        lambda m: f"s1.{_path(m[1])}_stem.bn.{_BN_SUFFIX[m[2]]}",
    ),
    (
        re.compile(r"t_pool1_subsample_(w|b)"),
        lambda m: f"s1_fuse.conv_f2s.{_PARAM_SUFFIX[m[1]]}",
    ),
    (
        re.compile(r"t_pool1_subsample_bn_(s|b|rm|riv)"),
        lambda m: f"s1_fuse.bn.{_BN_SUFFIX[m[1]]}",
    ),
    (
        re.compile(r"t_res(\d+)_\d+_branch2c_bn_subsample_(w|b)"),
        lambda m: f"s{m[1]}_fuse.conv_f2s.{_PARAM_SUFFIX[m[2]]}",
    ),
    (
        re.compile(r"t_res(\d+)_\d+_branch2c_bn_subsample_bn_(s|b|rm|riv)"),
        lambda m: f"s{m[1]}_fuse.bn.{_BN_SUFFIX[m[2]]}",
    ),
    (
        re.compile(r"(t_)?res(\d+)_(\d+)_branch1_(w|b)"),
        lambda m: f"s{m[2]}.{_path(m[1])}_res{m[3]}.branch1.{_PARAM_SUFFIX[m[4]]}",
    ),
    (
        re.compile(r"(t_)?res(\d+)_(\d+)_branch1_bn_(s|b|rm|riv)"),
        lambda m: f"s{m[2]}.{_path(m[1])}_res{m[3]}.branch1_bn.{_BN_SUFFIX[m[4]]}",
    ),
    (
        re.compile(r"(t_)?res(\d+)_(\d+)_branch2([a-z])_(w|b)"),
        lambda m: f"s{m[2]}.{_path(m[1])}_res{m[3]}.branch2.{m[4]}.{_PARAM_SUFFIX[m[5]]}",
    ),
    (
        re.compile(r"(t_)?res(\d+)_(\d+)_branch2([a-z])_bn_(s|b|rm|riv)"),
        lambda m: f"s{m[2]}.{_path(m[1])}_res{m[3]}.branch2.{m[4]}_bn.{_BN_SUFFIX[m[5]]}",
    ),
    (
        re.compile(r"nonlocal_conv(\d+)_(\d+)_(theta|phi|g|out)_(w|b)"),
        lambda m: f"s{m[1]}.pathway0_nonlocal{m[2]}.conv_{m[3]}.{_PARAM_SUFFIX[m[4]]}",
    ),
    (
        re.compile(r"nonlocal_conv(\d+)_(\d+)_bn_(s|b|rm|riv)"),
        lambda m: f"s{m[1]}.pathway0_nonlocal{m[2]}.bn.{_BN_SUFFIX[m[3]]}",
    ),
    (re.compile(r"pred_(w|b)"), lambda m: f"head.projection.{_PARAM_SUFFIX[m[1]]}"),
]


def c2_name_to_pytorch(name: str) -> str | None:
    """The PyTorch parameter name of Caffe2 blob ``name``, or None when no rule knows it."""
    for pattern, convert in _RULES:
        match = pattern.fullmatch(name)
        if match:
            return convert(match)
    return None


def is_optimizer_blob(name: str) -> bool:
    """Blobs that hold solver state rather than weights."""
    return "momentum" in name or name in ("lr", "model_iter") or name.endswith("_lr")


def _unpickle(path: str, trusted: bool | None) -> Any:
    """The pickle at ``path`` through :class:`~.safe_pickle.DataUnpickler`; a refused global
    raises :class:`~.safe_pickle.UnsafeCheckpointError` unless the file is trusted (then it is
    read in full, and the log says so)."""
    with open(path, "rb") as f:
        try:
            return load_data_pickle(f)
        except pickle.UnpicklingError as err:
            refused = re.findall(r"global (\S+) is not allowed", str(err))
            if not refused:
                raise
            admit_unsafe(path, refused, trusted)
            f.seek(0)
            return pickle.load(f, encoding="latin1")


def load_caffe2_blobs(path: str, trusted: bool | None = None) -> dict[str, np.ndarray]:
    """Read a Caffe2 ``.pkl`` and return its weight blobs (optimiser blobs dropped).

    Only data is unpickled (:mod:`slowfast.checkpoint.safe_pickle`); ``trusted`` (None: the
    ``SLOWFAST_TRUSTED_CHECKPOINTS`` variable) admits a file that names anything else.
    """
    try:
        data = _unpickle(path, trusted)
    except UnsafeCheckpointError:
        raise
    except (OSError, pickle.UnpicklingError, EOFError) as err:
        raise ValueError(f"{path}: cannot read a Caffe2 pickle: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("blobs"), dict):
        found = sorted(data)[:10] if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: not a Caffe2 checkpoint (no 'blobs' dict; found {found})")
    return {
        str(name): np.asarray(blob)
        for name, blob in data["blobs"].items()
        if not is_optimizer_blob(str(name))
    }


def caffe2_to_state_dict(
    blobs: Mapping[str, np.ndarray], model_state_dict: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Convert Caffe2 blobs to a state dict for a model whose state dict is ``model_state_dict``.

    Blobs with fewer dimensions than the model's tensor get trailing singleton dimensions;
    BN statistics of sub-BN layers fill both ``bn`` and (tiled per split) ``split_bn``.
    Blobs no rule knows, or whose name is not in the model, are left out and logged with their
    names; blobs of another shape are kept (the loader reports them) and logged; model tensors
    that no blob fills are logged too. ``num_batches_tracked`` is never in Caffe2 files.
    """
    out: dict[str, torch.Tensor] = {}
    unknown, absent, mismatched = [], [], []
    for c2_name in sorted(blobs):
        if is_optimizer_blob(c2_name):
            continue
        name = c2_name_to_pytorch(c2_name)
        if name is None:
            unknown.append(c2_name)
            continue
        value = torch.as_tensor(np.asarray(blobs[c2_name])).clone()
        sub_bn = sub_bn_entries(name, value, model_state_dict)
        if sub_bn is not None:
            out.update(sub_bn)
            continue
        if name not in model_state_dict:
            absent.append(f"{c2_name} -> {name}")
            continue
        target = tuple(model_state_dict[name].shape)
        if value.dim() < len(target):
            value = value.reshape(tuple(value.shape) + (1,) * (len(target) - value.dim()))
        if tuple(value.shape) != target:
            mismatched.append(f"{c2_name} -> {name}: {tuple(value.shape)} vs model {target}")
        out[name] = value
    unfilled = [
        k for k in model_state_dict if k not in out and not k.endswith("num_batches_tracked")
    ]
    for what, names in (
        ("Caffe2 blobs with no PyTorch name (skipped)", unknown),
        ("Caffe2 blobs not in the model (skipped)", absent),
        ("Caffe2 blobs with another shape than the model's", mismatched),
        ("model tensors no Caffe2 blob fills", unfilled),
    ):
        if names:
            logger.warning("%s (%d): %s", what, len(names), ", ".join(names))
    return out
