"""Writing a file so that its name only ever holds the old file or the whole new one: results
and records that a crash, a full disk or a Ctrl-C half-way through must not destroy."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from typing import IO


def atomic_write(path: str, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write`` on a hidden temporary file beside ``path``, flush and fsync it, rename it
    over ``path``, then fsync the directory; on any failure the temporary is removed and
    ``path`` is left as it was."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_write_text(path: str, text: str) -> None:
    """:func:`atomic_write` of ``text`` in UTF-8."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
