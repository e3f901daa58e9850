"""Empty stand-ins for the optional dependencies of PySlowFast's package, so that its model,
config and schedule code can be imported where those are not installed (its video models use
none of them but pytorchvideo's parameter-free ``Swish``, which :data:`WORKING` provides).
Imports nothing of this project: the scripts that run PySlowFast's code (``bench_worker.py``,
``pyslowfast_worker.py``) put PySlowFast's ``slowfast`` first on the path.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types

OPTIONAL_ROOTS = (
    "pytorchvideo",
    "detectron2",
    "psutil",
    "torchvision",
    "scipy",
    "pandas",
    "sklearn",
)


class _Unavailable:
    def __init__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__}: an optional dependency that is not installed")


def _swish():
    """pytorchvideo's ``Swish`` (``x * sigmoid(x)``, no parameters), which PySlowFast's X3D
    blocks use: the one name from an optional dependency that its models build."""
    import torch

    class Swish(torch.nn.Module):
        def forward(self, x):
            return x * torch.sigmoid(x)

    return Swish


# Names that stand-in modules provide for real, built on first use: (module, name) -> factory.
WORKING = {("pytorchvideo.layers.swish", "Swish"): _swish}


class _StandInModule(types.ModuleType):
    __path__: list[str] = []

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        factory = WORKING.get((self.__name__, name))
        if factory is not None:
            value = factory()
            setattr(self, name, value)
            return value
        return type(name, (_Unavailable,), {})


class StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Placed last on ``sys.meta_path``: only modules no other finder provides are stood in for;
    any class taken from a stand-in fails if built."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in OPTIONAL_ROOTS:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return _StandInModule(spec.name)

    def exec_module(self, module):
        pass


def install() -> None:
    """Append the finder to ``sys.meta_path`` (once)."""
    if not any(isinstance(f, StandInFinder) for f in sys.meta_path):
        sys.meta_path.append(StandInFinder())
