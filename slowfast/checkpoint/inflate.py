"""Initialise a 3-D video ResNet from a 2-D ImageNet ResNet ("inflation", Carreira & Zisserman).

Each 2-D kernel ``k x k`` becomes ``T x k x k`` by repeating it ``T`` times along time and
dividing by ``T``, so on a clip whose frames are all the same image a temporal convolution
gives what the 2-D one gives on that image (away from the clip's first and last frames, where
zero temporal padding cuts part of the kernel off). Everything else is copied.

Accepted 2-D layouts:

* PySlowFast's (``R50_IN1K.pyth``): the 3-D model's own names, convolutions 4-D or ``1 x k x k``;
* torchvision's ``resnet18/34/50/101`` (``conv1``, ``bn1``, ``layer1.0.conv1``,
  ``layer1.0.downsample.0``, ``fc``), renamed to ``s1.pathway0_stem.conv``, ``s2.pathway0_res0...``.

BN statistics go to both sets of a sub-BN layer. For SlowFast, the Slow pathway is inflated.
Its first block in res2..res5 also reads the channels fused from the Fast pathway: those input
channels get zero weights, so the Slow pathway starts out computing the 2-D network. The Fast
pathway, the fusions and non-local blocks keep their initialisation; they, and any dropped 2-D
tensor (e.g. ``fc`` for another number of classes), are logged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from slowfast.checkpoint.sub_bn import sub_bn_entries
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

_TV_STEM = {"conv1": "s1.pathway0_stem.conv", "bn1": "s1.pathway0_stem.bn"}
_TV_BLOCK = re.compile(r"layer(\d)\.(\d+)\.(conv|bn)(\d)\.(.+)")
_TV_DOWNSAMPLE = re.compile(r"layer(\d)\.(\d+)\.downsample\.([01])\.(.+)")
_LETTERS = "abc"


def is_torchvision_layout(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether ``state`` uses torchvision ResNet names (``conv1.weight``, ``layer1.0...``)."""
    return "conv1.weight" in state and any(k.startswith("layer1.") for k in state)


def torchvision_to_pyslowfast_name(name: str) -> str | None:
    """PySlowFast name of a torchvision ResNet tensor (None for names it does not know)."""
    head, _, leaf = name.partition(".")
    if head in _TV_STEM:
        return f"{_TV_STEM[head]}.{leaf}"
    if head == "fc":
        return f"head.projection.{leaf}"
    m = _TV_BLOCK.fullmatch(name)
    if m:
        layer, block, kind, idx, leaf = m.groups()
        letter = _LETTERS[int(idx) - 1]
        module = letter if kind == "conv" else f"{letter}_bn"
        return f"s{int(layer) + 1}.pathway0_res{block}.branch2.{module}.{leaf}"
    m = _TV_DOWNSAMPLE.fullmatch(name)
    if m:
        layer, block, which, leaf = m.groups()
        module = "branch1" if which == "0" else "branch1_bn"
        return f"s{int(layer) + 1}.pathway0_res{block}.{module}.{leaf}"
    return None


def _inflate_tensor(v2d: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
    """``v2d`` in ``target``'s shape, or None when it cannot be (a genuine mismatch)."""
    if v2d.dim() == 5 and v2d.shape[2] == 1 and target.dim() == 5:
        v2d = v2d[:, :, 0]
    if v2d.dim() == 4 and target.dim() == 5:
        out_c, in_c, t = target.shape[0], target.shape[1], target.shape[2]
        if v2d.shape[0] != out_c or v2d.shape[2:] != target.shape[3:] or v2d.shape[1] > in_c:
            return None
        kernel = v2d.unsqueeze(2).repeat(1, 1, t, 1, 1) / t
        if v2d.shape[1] < in_c:
            # Extra input channels (fused from the Fast pathway) get zero weights.
            pad = kernel.new_zeros((out_c, in_c - v2d.shape[1]) + tuple(kernel.shape[2:]))
            kernel = torch.cat([kernel, pad], dim=1)
        return kernel.to(target.dtype)
    if v2d.shape == target.shape:
        return v2d.to(target.dtype).clone()
    return None


def inflate_state_dict(
    state_2d: Mapping[str, torch.Tensor], model_state_dict: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Inflate a 2-D ResNet state dict to the 3-D model whose state dict is ``model_state_dict``.

    Returns the tensors for the model keys it could fill (load with ``strict=False``: the
    others keep their initialisation). Logs what was dropped and what was left unfilled.
    """
    state = {k.removeprefix("module."): v for k, v in state_2d.items()}
    if is_torchvision_layout(state):
        renamed = {}
        for key, value in state.items():
            new = torchvision_to_pyslowfast_name(key)
            renamed[new if new is not None else key] = value
        state = renamed
    out: dict[str, torch.Tensor] = {}
    dropped, padded = [], []
    for key, value in state.items():
        sub_bn = sub_bn_entries(key, value, model_state_dict)
        if sub_bn is not None:
            out.update(sub_bn)
            continue
        target = model_state_dict.get(key)
        if target is None:
            dropped.append(f"{key} (not in the model)")
            continue
        inflated = _inflate_tensor(value, target)
        if inflated is None:
            dropped.append(f"{key} {tuple(value.shape)} vs model {tuple(target.shape)}")
            continue
        if value.dim() >= 4 and inflated.shape[1] > value.shape[1]:
            padded.append(key)
        out[key] = inflated
    unfilled = [
        k for k in model_state_dict if k not in out and not k.endswith("num_batches_tracked")
    ]
    logger.info(
        "Inflated %d of %d model tensors from the 2-D weights", len(out), len(model_state_dict)
    )
    if padded:
        logger.info("Zero weights on fused input channels of: %s", ", ".join(padded))
    if dropped:
        logger.warning("2-D tensors not used (%d): %s", len(dropped), ", ".join(dropped))
    if unfilled:
        logger.info(
            "Model tensors keeping their initialisation (%d): %s",
            len(unfilled),
            ", ".join(unfilled),
        )
    return out
