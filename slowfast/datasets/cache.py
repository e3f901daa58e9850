"""A per-process, size-bounded cache of fully decoded videos (``DATA.DECODED_CACHE_MB``).

For datasets small enough to keep in memory (the synthetic demo set, a debugging subset) decoding
dominates the cost of a clip; with the cache each video is decoded once per process and later
clips are cut from the kept frames. Least recently used videos are dropped past the budget. The
cache is module-level so it survives the loader rebuilds of multigrid phase changes; each data
loader worker process has its own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from slowfast.datasets.reader import VideoReader, resize_frames

_videos: OrderedDict[str, tuple[np.ndarray, float]] = OrderedDict()
_bytes = 0


def clear() -> None:
    """Drop every cached video."""
    global _bytes
    _videos.clear()
    _bytes = 0


def cached_bytes() -> int:
    """Bytes of decoded frames held now."""
    return _bytes


class CachedVideoReader:
    """A :class:`~slowfast.datasets.decoder.VideoReader` over a video's cached frames.

    On a miss ``open_reader()`` is called and every frame is decoded once; ``frames_decoded``
    counts the frames decoded by this reader (0 on a hit).
    """

    def __init__(self, key: str, open_reader: Callable[[], VideoReader], budget_bytes: int):
        global _bytes
        self.path = key
        self.frames_decoded = 0
        entry = _videos.get(key)
        if entry is None:
            with open_reader() as reader:
                frames = reader.read(range(reader.num_frames))
                entry = (frames, float(reader.fps))
                self.frames_decoded = reader.frames_decoded
            if frames.nbytes <= budget_bytes:
                _videos[key] = entry
                _bytes += frames.nbytes
                while _bytes > budget_bytes:
                    _, (old, _fps) = _videos.popitem(last=False)
                    _bytes -= old.nbytes
        else:
            _videos.move_to_end(key)
        self._frames, self.fps = entry
        self.num_frames = len(self._frames)

    def read(self, indices: Sequence[int], short_side: int | None = None) -> np.ndarray:
        return resize_frames(self._frames[np.asarray(list(indices), dtype=np.int64)], short_side)

    def close(self) -> None:
        pass

    def __enter__(self) -> CachedVideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        pass
