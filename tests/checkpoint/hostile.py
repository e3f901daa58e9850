"""Checkpoint files as an attacker and as older tools write them, for the safe-loading tests.

* :func:`write_hostile_pyth` / :func:`write_hostile_pkl`: a real-looking checkpoint with one
  extra entry whose ``__reduce__`` runs a shell command that creates a marker file, the way a
  malicious download would; loading them must never create the marker.
* :func:`py2_pickle_bytes`: a pickle as Python 2 writes it (byte strings as ``STRING``
  opcodes, NumPy 1's ``numpy.core`` module names), the form of Caffe2 model-zoo files.
"""

from __future__ import annotations

import io
import os
import pickle
import shlex
import struct
from typing import Any

import numpy as np
import torch


class RunsCommand:
    """Unpickling this runs ``touch MARKER`` through ``os.system``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(self.marker)}",))


def write_hostile_pyth(path: str, model_state: dict[str, Any], marker: str, legacy=False) -> None:
    """A PySlowFast-layout ``.pyth`` whose ``cfg`` entry is a :class:`RunsCommand`;
    ``legacy``: PyTorch's pre-1.6 (non-zip) serialization."""
    data = {"epoch": 3, "model_state": model_state, "cfg": RunsCommand(marker)}
    torch.save(data, path, _use_new_zipfile_serialization=not legacy)


def write_hostile_pkl(path: str, blobs: dict[str, np.ndarray], marker: str) -> None:
    """A Caffe2 ``.pkl`` of ``blobs`` with a :class:`RunsCommand` beside them."""
    with open(path, "wb") as f:
        pickle.dump({"blobs": blobs, "model_iter": RunsCommand(marker)}, f, protocol=2)


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler, whose opcodes can be chosen
    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes(self, obj: bytes) -> None:
        # Python 2's str: SHORT_BINSTRING / BINSTRING (Python 3 writes _codecs.encode calls).
        n = len(obj)
        self.write(b"U" + bytes([n]) if n < 256 else b"T" + struct.pack("<i", n))
        self.write(obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def py2_pickle_bytes(obj: Any) -> bytes:
    """``obj`` pickled at protocol 2 as Python 2 with NumPy 1 writes it; give dict keys as
    ``bytes`` to get Python 2 ``str`` keys."""
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    # GLOBAL opcodes are newline-terminated text, so the module name can be swapped in place.
    return buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
