"""The model registry, ``build_model`` (on the CPU) and ``place_model`` (onto a device).

Contract for a registered model: ``@MODEL_REGISTRY.register()`` on a ``torch.nn.Module`` class,
selected by ``MODEL.MODEL_NAME`` = its exact registered name. ``build_model`` calls the class's
``from_cfg(cfg)`` classmethod when it has one (the built-in zoo: a cfg-free builder taking
explicit keyword arguments, and ``from_cfg`` reading the config and calling it), else
``cls(cfg)`` (PySlowFast's contract). ``forward`` takes a list of input tensors, one per pathway,
each ``N x C x T x H x W``, and returns ``N x NUM_CLASSES`` scores.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import torch
from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError
from slowfast.utils.precision import model_memory_format
from slowfast.utils.registry import Registry

MODEL_REGISTRY = Registry("MODEL")
MODEL_REGISTRY.__doc__ = __doc__

# Comma-separated modules (importable names or paths of .py files) imported before a model is
# looked up, so that models registered in a user's own file can be selected by name.
EXTRA_MODULES_ENV = "SLOWFAST_EXTRA_MODULES"


def _import_path(path: str) -> None:
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(path):
        raise ImportError(f"{EXTRA_MODULES_ENV}: no such file: {path}")
    name = "slowfast_extra_" + os.path.splitext(os.path.basename(path))[0]
    if getattr(sys.modules.get(name), "__file__", None) == path:
        return
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


def import_extra_modules(spec: str | None = None) -> list[str]:
    """Import the modules listed in ``spec`` (default: the ``SLOWFAST_EXTRA_MODULES`` variable).

    Entries ending in ``.py`` (or containing a path separator) are files, the others module
    names. Importing twice is harmless. Returns the entries imported.
    """
    if spec is None:
        spec = os.environ.get(EXTRA_MODULES_ENV, "")
    entries = [e.strip() for e in spec.split(",") if e.strip()]
    for entry in entries:
        if entry.endswith(".py") or os.sep in entry:
            _import_path(entry)
        else:
            importlib.import_module(entry)
    return entries


def build_model(cfg: CfgNode) -> torch.nn.Module:
    """Build ``MODEL.MODEL_NAME`` from the registry, on the CPU (see the module docstring).

    Placing it on a device (and in a memory layout) is the caller's job: :func:`place_model`.
    """
    import_extra_modules()
    name = cfg.MODEL.MODEL_NAME
    if name not in MODEL_REGISTRY:
        known = ", ".join(MODEL_REGISTRY.names())
        raise ConfigError(
            f"MODEL.MODEL_NAME: no model registered as {name!r} (registered: {known}). A model "
            f"in your own file must be imported first: list it in ${EXTRA_MODULES_ENV}."
        )
    entry = MODEL_REGISTRY.get(name)
    from_cfg = getattr(entry, "from_cfg", None)
    return from_cfg(cfg) if callable(from_cfg) else entry(cfg)


def input_multiples(cfg: CfgNode) -> tuple[int, int]:
    """(frames, crop) multiples the model of ``cfg`` prefers its clips to be: a model class may
    define ``input_multiples(cfg)`` (MViT: the sizes whose token grids every pooling halves
    exactly); others take any size, (1, 1). The multigrid schedule rounds its shapes to them."""
    import_extra_modules()
    entry = (
        MODEL_REGISTRY.get(cfg.MODEL.MODEL_NAME) if cfg.MODEL.MODEL_NAME in MODEL_REGISTRY else None
    )
    rule = getattr(entry, "input_multiples", None)
    if not callable(rule):
        return 1, 1
    frames, crop = rule(cfg)
    return int(frames), int(crop)


def place_model(
    model: torch.nn.Module,
    where: CfgNode | torch.device | str,
    *,
    memory_format: torch.memory_format | None = None,
) -> torch.nn.Module:
    """Move ``model`` in place to a device and return it.

    ``where`` is a device, or a config: then ``NUM_GPUS > 0`` means the current CUDA device
    (``NUM_GPUS 0``: the CPU) and ``memory_format`` defaults to ``MODEL.CHANNELS_LAST``'s layout.
    With a device, the layout changes only when ``memory_format`` is given.
    """
    if isinstance(where, CfgNode):
        device = torch.device("cpu")
        if where.NUM_GPUS > 0:
            if not torch.cuda.is_available():
                raise RuntimeError(
                    f"NUM_GPUS is {where.NUM_GPUS} but CUDA is not available; set NUM_GPUS 0 "
                    f"for the CPU"
                )
            device = torch.device("cuda", torch.cuda.current_device())
        if memory_format is None:
            memory_format = model_memory_format(where, device)
    else:
        device = torch.device(where)
    if memory_format is None:
        return model.to(device)
    return model.to(device, memory_format=memory_format)
