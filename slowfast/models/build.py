"""The model registry and ``build_model``.

Contract for a registered model: ``@MODEL_REGISTRY.register()`` on a ``torch.nn.Module`` class
whose constructor takes the config node (``cls(cfg)``) and whose ``forward`` takes a list of
input tensors, one per pathway, each ``N x C x T x H x W``, and returns ``N x NUM_CLASSES``
scores. ``MODEL.MODEL_NAME`` selects the class by its exact registered name.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import torch
from fvcore.common.config import CfgNode
from fvcore.common.registry import Registry

from slowfast.config.errors import ConfigError
from slowfast.utils.logging import get_logger

MODEL_REGISTRY = Registry("MODEL")
MODEL_REGISTRY.__doc__ = __doc__

# Comma-separated modules (importable names or paths of .py files) imported before a model is
# looked up, so that models registered in a user's own file can be selected by name.
EXTRA_MODULES_ENV = "SLOWFAST_EXTRA_MODULES"

logger = get_logger(__name__)


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


def build_model(cfg: CfgNode, gpu_id: int | None = None) -> torch.nn.Module:
    """Build ``MODEL.MODEL_NAME`` from the registry with ``cls(cfg)``.

    With ``NUM_GPUS > 0`` and CUDA available the model is moved to ``gpu_id`` (default: the
    current CUDA device); ``NUM_GPUS == 0`` keeps it on the CPU. No DDP wrapping here.
    """
    import_extra_modules()
    name = cfg.MODEL.MODEL_NAME
    if name not in MODEL_REGISTRY:
        known = ", ".join(sorted(name for name, _ in MODEL_REGISTRY))
        raise ConfigError(
            f"MODEL.MODEL_NAME: no model registered as {name!r} (registered: {known}). A model "
            f"in your own file must be imported first: list it in ${EXTRA_MODULES_ENV}."
        )
    model = MODEL_REGISTRY.get(name)(cfg)
    if cfg.NUM_GPUS > 0:
        if torch.cuda.is_available():
            device = torch.cuda.current_device() if gpu_id is None else gpu_id
            model = model.cuda(device=device)
        else:
            logger.warning(
                "NUM_GPUS=%d but CUDA is not available: the model stays on the CPU", cfg.NUM_GPUS
            )
    return model
