"""What every frame reader shares: the :class:`VideoReader` interface, a base class giving the
context-manager protocol, the decode-time counters and the resize at decode time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from slowfast.datasets.transform import resize_short_side

# Instrumentation (the data benchmark reads it): wall seconds the readers of this process spent
# per stage -- "open_s" (file and stream probing), "seek_s", "decode_s" (demuxing and decoding),
# "convert_s" (colour conversion, with the resize when decoding at a short side) -- and "frames",
# the frames decoded.
DECODE_STATS: defaultdict[str, float] = defaultdict(float)


class VideoReader(Protocol):
    """What the datasets need from a decoder."""

    path: str
    fps: float
    num_frames: int
    frames_decoded: int

    def read(self, indices: Sequence[int], short_side: int | None = None) -> np.ndarray:
        """Frames at ``indices`` (in that order, repeats allowed) as ``len x H x W x 3`` RGB,
        scaled to ``short_side`` when it is given."""

    def close(self) -> None:
        """Release the file."""


class ReaderBase:
    """A reader used as ``with reader: ...``: closed on leaving the block."""

    def close(self) -> None:
        """Release the file (nothing to release by default)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resize_frames(frames: np.ndarray, short_side: int | None) -> np.ndarray:
    """``frames`` scaled to ``short_side`` with the transform's filter (no-op for None)."""
    return frames if short_side is None else resize_short_side(frames, short_side)
