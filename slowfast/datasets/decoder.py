"""The decoder registry: which reader opens an encoded video for ``DATA.DECODING_BACKEND``.

Backends (``DATA.DECODING_BACKEND``): ``pyav`` (the default), ``decord`` (optional: ``pip
install decord``) and ``torchvision``, PySlowFast's default, whose video decoder torchvision
0.28 removed; where torchvision cannot decode, the dataset decodes with ``pyav`` and logs one
line saying so (:func:`resolve_backend`).

Every reader's failure — missing, unreadable, truncated or frameless file — is a :class:`DataError`
naming the file.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from slowfast.datasets.errors import DataError
from slowfast.datasets.pyav_reader import SEEK_GAP_S, PyAVReader  # noqa: F401
from slowfast.datasets.reader import DECODE_STATS, ReaderBase, VideoReader, resize_frames
from slowfast.utils.registry import Registry

__all__ = [
    "DECODER_REGISTRY",
    "DECODE_STATS",
    "DecordReader",
    "PyAVReader",
    "TorchvisionReader",
    "VideoReader",
    "backend_problem",
    "open_video",
    "resize_frames",
    "resolve_backend",
]

DECODER_REGISTRY = Registry("DECODER")
DECODER_REGISTRY.__doc__ = """Video readers by DATA.DECODING_BACKEND name.

Contract: ``DECODER_REGISTRY.register_as("name")`` on a class ``cls(path, threads)`` (threads: the
decoder's thread count, 0 for its own choice, ignored where it has none) that is a
:class:`~slowfast.datasets.reader.VideoReader` and a context manager, and raises
:class:`DataError` naming the file when it cannot open or decode it.
"""
DECODER_REGISTRY.register_as("pyav")(PyAVReader)


def open_video(path: str, backend: str = "pyav", threads: int = 0) -> VideoReader:
    """Open ``path`` with the reader registered as ``backend`` (a ``DATA.DECODING_BACKEND``).

    ``threads`` is the decoder's thread count (PyAV, decord): 0 lets the decoder choose.
    """
    if backend not in DECODER_REGISTRY:
        raise ValueError(
            f"unknown decoding backend {backend!r} (expected one of {DECODER_REGISTRY.names()})"
        )
    return DECODER_REGISTRY.get(backend)(path, threads)


def backend_problem(backend: str) -> str | None:
    """Why ``backend`` cannot decode in this environment, or None when it can."""
    if backend not in DECODER_REGISTRY:
        return f"unknown decoding backend {backend!r} (expected one of {DECODER_REGISTRY.names()})"
    if backend == "decord":
        try:
            import decord  # noqa: F401
        except ImportError as e:
            return f"decord cannot be imported ({e}); install it with `pip install decord`"
    if backend == "torchvision":
        try:
            import torchvision
            import torchvision.io
        except Exception as e:  # a CUDA-only wheel beside a CPU torch raises RuntimeError/OSError
            return f"torchvision cannot be imported ({type(e).__name__}: {e})"
        if not hasattr(torchvision.io, "read_video"):
            return f"torchvision {torchvision.__version__} has no video decoder (removed in 0.28)"
    return None


def resolve_backend(backend: str) -> tuple[str, str | None]:
    """The backend a run decodes with and, when it is not the one asked for, why.

    ``torchvision`` (PySlowFast's default) falls back to ``pyav`` when torchvision cannot decode;
    ``decord`` asked for explicitly and missing is an error for the caller to report.
    """
    problem = backend_problem(backend)
    if problem is not None and backend == "torchvision":
        return "pyav", f"DATA.DECODING_BACKEND 'torchvision': {problem}; decoding with PyAV instead"
    return backend, problem


@DECODER_REGISTRY.register_as("torchvision")
class TorchvisionReader(ReaderBase):
    """Decoding through ``torchvision.io.read_video`` over the clip's time range.

    Frame rate and frame count come from PyAV's view of the container; torchvision is imported only
    when this backend is chosen.
    """

    def __init__(self, path: str, threads: int = 0):
        problem = backend_problem("torchvision")
        if problem is not None:
            raise ImportError(f"DATA.DECODING_BACKEND 'torchvision': {problem}; use 'pyav'")
        import torchvision.io

        self._io = torchvision.io
        with PyAVReader(path) as probe:
            self.fps, self.num_frames, self._start = probe.fps, probe.num_frames, probe._start
        self.path = path
        self.frames_decoded = 0

    def read(self, indices: Sequence[int], short_side: int | None = None) -> np.ndarray:
        first, last = min(indices), max(indices)
        t0 = self._start + first / self.fps
        t1 = self._start + (last + 0.5) / self.fps
        try:
            frames, _, _ = self._io.read_video(
                self.path, start_pts=t0, end_pts=t1, pts_unit="sec", output_format="THWC"
            )
        except Exception as e:  # torchvision raises plain RuntimeError/ValueError/OSError
            raise DataError(f"{self.path}: decoding failed: {e}") from None
        if frames.shape[0] == 0:
            raise DataError(f"{self.path}: no frame could be decoded in [{t0:.2f}, {t1:.2f}] s")
        self.frames_decoded += int(frames.shape[0])
        arr = frames.numpy()
        pos = [min(int(i) - first, arr.shape[0] - 1) for i in indices]
        return resize_frames(arr[pos], short_side)


@DECODER_REGISTRY.register_as("decord")
class DecordReader(ReaderBase):
    """Decoding through decord (optional: ``pip install decord``), frames fetched by index.

    decord indexes frames by its own count of the stream, so a file whose container announces
    another count or frame rate than PyAV reads is decoded at decord's indices; both readers
    agree on constant-frame-rate files.
    """

    def __init__(self, path: str, threads: int = 0):
        problem = backend_problem("decord")
        if problem is not None:
            raise ImportError(f"DATA.DECODING_BACKEND 'decord': {problem}")
        import decord

        self.path = path
        self.frames_decoded = 0
        start = time.perf_counter()
        try:
            self._reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=threads)
        except (decord.DECORDError, RuntimeError) as e:
            raise DataError(f"{path}: cannot open video: {e}") from None
        finally:
            DECODE_STATS["open_s"] += time.perf_counter() - start
        self.num_frames = len(self._reader)
        if self.num_frames <= 0:
            raise DataError(f"{path}: the video stream has no frames")
        self.fps = float(self._reader.get_avg_fps())

    def read(self, indices: Sequence[int], short_side: int | None = None) -> np.ndarray:
        wanted = sorted(set(min(max(int(i), 0), self.num_frames - 1) for i in indices))
        start = time.perf_counter()
        try:
            batch = self._reader.get_batch(wanted).asnumpy()
        except Exception as e:  # decord raises its own DECORDError or RuntimeError
            raise DataError(f"{self.path}: decoding failed: {e}") from None
        DECODE_STATS["decode_s"] += time.perf_counter() - start
        self.frames_decoded += len(wanted)  # frames returned; decord decodes more, unseen
        DECODE_STATS["frames"] += len(wanted)
        position = {i: k for k, i in enumerate(wanted)}
        picked = [position[min(max(int(i), 0), self.num_frames - 1)] for i in indices]
        return resize_frames(batch[picked], short_side)

    def close(self) -> None:
        self._reader = None
