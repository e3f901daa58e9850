"""Reading pickled checkpoints without running code: the allow-list of what a checkpoint may
hold beyond tensors, a restricted unpickler for Caffe2 ``.pkl`` files, and the opt-in for
trusted legacy files.

A pickle can name any importable callable and call it while it is read, so a downloaded
checkpoint could run a command on load. Everything a real PySlowFast, Caffe2 or own checkpoint
holds is data: containers, strings, numbers, tensors, and in older files NumPy arrays, scalars
and dtypes. Only those are admitted (:data:`DATA_GLOBALS`, under NumPy 1's and NumPy 2's module
names). A file that names anything else is refused with :class:`UnsafeCheckpointError`, naming
the file, the refused objects and the opt-in: the environment variable
``SLOWFAST_TRUSTED_CHECKPOINTS`` (:data:`TRUST_ENV`), a list of files (``os.pathsep``
separated) or ``*`` for every file. It is an environment variable on purpose: a config file
shipped beside a checkpoint cannot switch it on.
"""

from __future__ import annotations

import _codecs
import collections
import os
import pickle
from typing import IO, Any

import numpy as np
import numpy.dtypes

try:
    from numpy._core import multiarray
except ImportError:  # NumPy < 1.26 has only the old name
    from numpy.core import multiarray

from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

TRUST_ENV = "SLOWFAST_TRUSTED_CHECKPOINTS"

# NumPy dtypes a weight or a number can have; object and structured (void) dtypes are left out.
_DTYPES = [
    getattr(numpy.dtypes, name)
    for name in dir(numpy.dtypes)
    if name.endswith("DType") and name not in ("ObjectDType", "VoidDType")
]


def _numpy_globals() -> dict[str, Any]:
    out: dict[str, Any] = {"numpy.dtype": np.dtype, "numpy.ndarray": np.ndarray}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # NumPy 1 and 2 names
        out[f"{module}._reconstruct"] = multiarray._reconstruct
        out[f"{module}.scalar"] = multiarray.scalar
    for dtype in _DTYPES:
        out[f"numpy.dtypes.{dtype.__name__}"] = dtype
    return out


# Qualified name (as a pickle names it) -> the object it may resolve to.
DATA_GLOBALS: dict[str, Any] = _numpy_globals()

# What a Caffe2 pickle needs beyond DATA_GLOBALS: ``_codecs.encode`` is how Python 3 pickles
# bytes at protocol 2 (it only converts text to bytes), OrderedDict an ordered blob dict.
_CAFFE2_GLOBALS: dict[str, Any] = {
    **DATA_GLOBALS,
    "_codecs.encode": _codecs.encode,
    "collections.OrderedDict": collections.OrderedDict,
}


class UnsafeCheckpointError(ValueError):
    """A checkpoint names objects beyond data, and nothing said to trust it."""

    def __init__(self, path: str, refused: list[str]) -> None:
        self.path = path
        self.refused = refused
        what = ", ".join(refused) if refused else "objects beyond plain data"
        super().__init__(
            f"{path}: refused to load: the file names {what}, which unpickling would call "
            "(a checkpoint of weights needs none; a file that does can run code on load). If "
            f"you trust this file, allow it with {TRUST_ENV}={path} (a list separated by "
            f"'{os.pathsep}', or '*' for every file) and load it again."
        )


def torch_safe_globals() -> list[tuple[Any, str]]:
    """:data:`DATA_GLOBALS` in the form ``torch.serialization.safe_globals`` takes, so that
    ``torch.load(weights_only=True)`` reads NumPy values of older files under both names."""
    return [(obj, name) for name, obj in DATA_GLOBALS.items()]


def is_trusted(path: str, environ: dict[str, str] | None = None) -> bool:
    """Whether :data:`TRUST_ENV` lists ``path`` (compared as real paths) or is ``*``."""
    value = (os.environ if environ is None else environ).get(TRUST_ENV, "").strip()
    if not value:
        return False
    entries = [e.strip() for e in value.split(os.pathsep) if e.strip()]
    if "*" in entries:
        return True
    real = os.path.realpath(path)
    return any(os.path.realpath(os.path.expanduser(e)) == real for e in entries)


def admit_unsafe(path: str, refused: list[str], trusted: bool | None) -> None:
    """Let a file that names ``refused`` be read in full when ``trusted`` (None:
    :func:`is_trusted`), and log that it was; otherwise raise :class:`UnsafeCheckpointError`."""
    if not (is_trusted(path) if trusted is None else trusted):
        raise UnsafeCheckpointError(path, refused)
    logger.warning(
        "%s names %s; reading it with full unpickling, as %s trusts it",
        path,
        ", ".join(refused) or "objects beyond plain data",
        TRUST_ENV if trusted is None else "the caller",
    )


class DataUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of a Caffe2 checkpoint (dicts, strings,
    numbers, NumPy arrays and dtypes); any other global raises :class:`pickle.UnpicklingError`
    naming it, before anything is called."""

    def find_class(self, module: str, name: str) -> Any:
        obj = _CAFFE2_GLOBALS.get(f"{module}.{name}")
        if obj is None:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return obj


def load_data_pickle(f: IO[bytes], encoding: str = "latin1") -> Any:
    """Unpickle ``f`` with :class:`DataUnpickler` (``latin1`` reads Python 2 pickles)."""
    return DataUnpickler(f, encoding=encoding).load()
