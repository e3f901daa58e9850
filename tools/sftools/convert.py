"""What ``tools/convert_checkpoint.py`` does: a model's weights from a ``.pyth``, a Caffe2
``.pkl`` or a ``.safetensors`` file to a ``.safetensors`` or ``.pyth`` file.

The output holds the weights in the ``.pyth`` layout (no ``module.``, sub-BN as plain BN) and
the config: the input's own ``cfg`` entry or metadata, else the ``--cfg`` given. A Caffe2 file
holds blob names, not parameter names, so it needs ``--cfg``: the model it builds names and
shapes the blobs. With ``--cfg`` every input is checked against that model, key for key and
shape for shape (the head included), so a file that would not load is never written. Nothing
from the input is unpickled beyond data (``SLOWFAST_TRUSTED_CHECKPOINTS`` admits a trusted
legacy file).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

from slowfast.checkpoint.caffe2 import caffe2_to_state_dict, load_caffe2_blobs
from slowfast.checkpoint.io import atomic_save, read_checkpoint
from slowfast.checkpoint.loader import fit_state
from slowfast.checkpoint.mismatch import CheckpointMismatchError, strip_prefix
from slowfast.checkpoint.safetensors_file import (
    is_safetensors,
    read_safetensors,
    write_safetensors,
)
from slowfast.checkpoint.sub_bn import sub_bn_to_bn_state
from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.config.errors import ConfigError
from slowfast.models import build_model

PYTORCH_SUFFIXES = (".pyth", ".pth", ".pt")


def _check_against(state: dict[str, Any], model_state: dict[str, Any], source: str) -> None:
    """Raise CheckpointMismatchError unless ``state`` has exactly the keys and shapes of
    ``model_state`` (``num_batches_tracked`` may be absent)."""
    missing = [k for k in model_state if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in model_state]
    misshapen = [
        f"{k}: file {tuple(v.shape)} vs model {tuple(model_state[k].shape)}"
        for k, v in state.items()
        if k in model_state and tuple(v.shape) != tuple(model_state[k].shape)
    ]
    problems = [
        f"{what} ({len(keys)}): {', '.join(keys[:8])}{' ...' if len(keys) > 8 else ''}"
        for what, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("other shape", misshapen),
        )
        if keys
    ]
    if problems:
        raise CheckpointMismatchError(
            f"{source} does not fit the model of --cfg: " + "; ".join(problems)
        )


def read_source(path: str, model: Any, caffe2: bool) -> dict[str, Any]:
    """``path`` as ``{"model_state": ..., "cfg"?: ...}``; with a model, in its layout and
    checked against it."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    if caffe2:
        if model is None:
            raise ConfigError(
                f"{path}: a Caffe2 .pkl holds blob names; give --cfg so that the model it "
                "builds can name and shape them"
            )
        blobs = load_caffe2_blobs(path)
        checkpoint = {"model_state": caffe2_to_state_dict(blobs, model.state_dict())}
    elif is_safetensors(path):
        checkpoint = read_safetensors(path)
    else:
        checkpoint = read_checkpoint(path)
    if model is None:
        state = strip_prefix(checkpoint["model_state"])
    else:
        model_state = model.state_dict()
        fitted = fit_state(checkpoint, model_state)
        _check_against(fitted, model_state, path)
        state = sub_bn_to_bn_state(fitted)
    cfg = checkpoint.get("cfg")
    return {"model_state": state, "cfg": cfg if isinstance(cfg, str) else None}


def output_format(path: str) -> str:
    """``safetensors`` or ``pytorch``, by the suffix of ``path``; ConfigError for others."""
    if is_safetensors(path):
        return "safetensors"
    if path.lower().endswith(PYTORCH_SUFFIXES):
        return "pytorch"
    raise ConfigError(
        f"{path}: the output's suffix names its format: .safetensors, or "
        f"{', '.join(PYTORCH_SUFFIXES)} for a PyTorch checkpoint"
    )


def write_target(path: str, state: dict[str, Any], cfg: str | None) -> None:
    """Write ``state`` (and ``cfg``) to ``path`` in the format its suffix names."""
    if output_format(path) == "safetensors":
        write_safetensors(path, state, cfg)
        return
    data: dict[str, Any] = {"model_state": {k: v.contiguous() for k, v in state.items()}}
    if cfg:
        data["cfg"] = cfg
    atomic_save(data, path)


def convert(
    src: str,
    dst: str,
    cfg_file: str | None = None,
    opts: Sequence[str] = (),
    caffe2: bool | None = None,
) -> dict[str, Any]:
    """Convert ``src`` to ``dst``; ``caffe2`` None reads ``*.pkl`` as Caffe2. Returns what
    was written: ``tensors``, ``parameters`` (elements), ``cfg_from``."""
    if os.path.realpath(src) == os.path.realpath(dst):
        raise ConfigError(f"{dst}: the output would overwrite the input")
    output_format(dst)  # a bad suffix is refused before any work
    cfg = assert_and_infer_cfg(build_cfg([cfg_file], opts)) if cfg_file else None
    model = build_model(cfg) if cfg is not None else None
    is_caffe2 = src.lower().endswith(".pkl") if caffe2 is None else caffe2
    read = read_source(src, model, is_caffe2)
    cfg_text, cfg_from = read["cfg"], "the input"
    if cfg_text is None and cfg is not None:
        cfg_text, cfg_from = cfg.dump(), cfg_file
    write_target(dst, read["model_state"], cfg_text)
    return {
        "tensors": len(read["model_state"]),
        "parameters": sum(int(v.numel()) for v in read["model_state"].values()),
        "cfg_from": cfg_from if cfg_text else None,
    }


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        description="Convert a model's weights between .pyth, Caffe2 .pkl and .safetensors."
    )
    parser.add_argument("src", help="input: .pyth / .pth / .pt, Caffe2 .pkl, or .safetensors")
    parser.add_argument("dst", help="output: .safetensors, or .pyth / .pth / .pt")
    parser.add_argument(
        "--cfg", help="the model's config: needed for Caffe2 files; checks any input against it"
    )
    parser.add_argument(
        "--type",
        choices=("pytorch", "caffe2"),
        help="the input's format when its suffix does not say it (.pkl: caffe2)",
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    if args.opts and not args.cfg:
        parser.error("KEY VALUE overrides need --cfg")
    caffe2 = None if args.type is None else args.type == "caffe2"
    done = convert(args.src, args.dst, args.cfg, args.opts, caffe2)
    cfg_note = f", config from {done['cfg_from']}" if done["cfg_from"] else ", no config"
    print(f"wrote {args.dst}: {done['tensors']} tensors, {done['parameters']:,} values{cfg_note}")
    return 0
