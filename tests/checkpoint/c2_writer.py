"""Test helper: write a model's weights as Caffe2 blobs (the inverse of
:mod:`slowfast.checkpoint.caffe2`), so tests can make ``.pkl`` files without Caffe2.

Moved out of the package: nothing but the tests writes Caffe2 files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import torch

from slowfast.checkpoint.sub_bn import sub_bn_to_bn_state

_BN_SUFFIX_INV = {"weight": "s", "bias": "b", "running_mean": "rm", "running_var": "riv"}
_PARAM_SUFFIX_INV = {"weight": "w", "bias": "b"}

# (PyTorch layer-prefix pattern, "param" or "bn", Caffe2 name template). ``{t}`` is "t_" on the
# Fast pathway, ``{sfx}`` the Caffe2 suffix of the leaf (w/b or s/b/rm/riv), ``{last}`` the last
# Fast block of the stage (Caffe2 names a fusion after it).
_INVERSE_RULES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"s1\.pathway(?P<p>\d)_stem\.conv"), "param", "{t}conv1_{sfx}"),
    (re.compile(r"s1\.pathway(?P<p>\d)_stem\.bn"), "bn", "{t}res_conv1_bn_{sfx}"),
    (re.compile(r"s1_fuse\.conv_f2s"), "param", "t_pool1_subsample_{sfx}"),
    (re.compile(r"s1_fuse\.bn"), "bn", "t_pool1_subsample_bn_{sfx}"),
    (
        re.compile(r"s(?P<S>\d+)_fuse\.conv_f2s"),
        "param",
        "t_res{S}_{last}_branch2c_bn_subsample_{sfx}",
    ),
    (
        re.compile(r"s(?P<S>\d+)_fuse\.bn"),
        "bn",
        "t_res{S}_{last}_branch2c_bn_subsample_bn_{sfx}",
    ),
    (
        re.compile(r"s(?P<S>\d+)\.pathway(?P<p>\d)_res(?P<i>\d+)\.branch1"),
        "param",
        "{t}res{S}_{i}_branch1_{sfx}",
    ),
    (
        re.compile(r"s(?P<S>\d+)\.pathway(?P<p>\d)_res(?P<i>\d+)\.branch1_bn"),
        "bn",
        "{t}res{S}_{i}_branch1_bn_{sfx}",
    ),
    (
        re.compile(r"s(?P<S>\d+)\.pathway(?P<p>\d)_res(?P<i>\d+)\.branch2\.(?P<x>[a-z])"),
        "param",
        "{t}res{S}_{i}_branch2{x}_{sfx}",
    ),
    (
        re.compile(r"s(?P<S>\d+)\.pathway(?P<p>\d)_res(?P<i>\d+)\.branch2\.(?P<x>[a-z])_bn"),
        "bn",
        "{t}res{S}_{i}_branch2{x}_bn_{sfx}",
    ),
    (
        re.compile(r"s(?P<S>\d+)\.pathway0_nonlocal(?P<i>\d+)\.conv_(?P<x>theta|phi|g|out)"),
        "param",
        "nonlocal_conv{S}_{i}_{x}_{sfx}",
    ),
    (
        re.compile(r"s(?P<S>\d+)\.pathway0_nonlocal(?P<i>\d+)\.bn"),
        "bn",
        "nonlocal_conv{S}_{i}_bn_{sfx}",
    ),
    (re.compile(r"head\.projection"), "param", "pred_{sfx}"),
]


def pytorch_name_to_c2(name: str, last_fast_block: Mapping[str, int] | None = None) -> str:
    """The Caffe2 blob name of PyTorch parameter ``name`` (inverse of :func:`c2_name_to_pytorch`).

    ``last_fast_block`` maps a stage number to its last Fast-pathway block index (needed for
    the fusion layers s2_fuse..s4_fuse only). Raises ValueError for names with no Caffe2 form.
    """
    prefix, _, leaf = name.rpartition(".")
    for pattern, kind, template in _INVERSE_RULES:
        match = pattern.fullmatch(prefix)
        if match is None:
            continue
        sfx = (_BN_SUFFIX_INV if kind == "bn" else _PARAM_SUFFIX_INV).get(leaf)
        if sfx is None:
            break
        fields = match.groupdict()
        stage = fields.get("S")
        if "{last}" in template and (last_fast_block is None or stage not in last_fast_block):
            raise ValueError(f"{name!r}: the last Fast block of stage {stage} is needed")
        return template.format(
            t="t_" if fields.get("p") == "1" else "",
            sfx=sfx,
            last=last_fast_block[stage] if "{last}" in template else "",
            **{k: v for k, v in fields.items() if k != "p"},
        )
    raise ValueError(f"no Caffe2 blob name for parameter {name!r}")


def state_dict_to_caffe2_blobs(state_dict: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """A ResNet / SlowFast state dict as Caffe2 blobs (what ``load_caffe2_blobs`` returns).

    Sub-BN layers are written in the plain-BN file layout; ``num_batches_tracked`` has no
    Caffe2 counterpart. Raises on names it cannot map.
    """
    last_fast: dict[str, int] = {}
    for key in state_dict:
        match = re.match(r"s(\d+)\.pathway1_res(\d+)\.", key)
        if match:
            last_fast[match[1]] = max(last_fast.get(match[1], 0), int(match[2]))
    blobs: dict[str, np.ndarray] = {}
    for key, value in sub_bn_to_bn_state(state_dict).items():
        if key.endswith("num_batches_tracked"):
            continue
        blobs[pytorch_name_to_c2(key, last_fast)] = value.detach().cpu().numpy()
    return blobs
