"""Loading clips stored as image files (SSv2, Charades frame lists).

Only the frames a clip uses are read. Images come back in OpenCV's BGR channel order, exactly as
PySlowFast reads them; that is why its SSv2 and Charades configs set
``DATA.REVERSE_INPUT_CHANNEL True`` (the model then sees RGB), and keeping the order keeps those
configs and checkpoints interchangeable.

``read(indices, short_side=S)`` returns the images scaled to short side ``S``. A JPEG whose short
side is at least twice ``S`` is decoded at a reduced scale (libjpeg's DCT scaling: 1/2, 1/4 or
1/8 of each side, the largest reduction that stays at or above ``S``), then resized to exactly
the size a full decode followed by a resize gives, so the crop geometry is the same; the reduced
decode does a fraction of the inverse-DCT and colour work.
"""

from __future__ import annotations

import functools
import io
import time
from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image

from slowfast.datasets.errors import DataError
from slowfast.datasets.reader import DECODE_STATS, ReaderBase
from slowfast.datasets.transform import resize_short_side, short_side_shape


class FrameListReader(ReaderBase):
    """The frames of one video listed as files; the same ``read`` interface as the decoders."""

    # Frame lists carry no frame rate; the sampling rules for them do not need one.
    fps = None

    def __init__(self, paths: Sequence[str]):
        if not paths:
            raise DataError("a video in the frame list has no frames")
        self.paths = list(paths)
        self.path = self.paths[0]
        self.num_frames = len(self.paths)
        # Instrumentation, as for the decoders: images read so far.
        self.frames_decoded = 0
        self._jpeg_size: tuple[int, int] | None = None  # (width, height), from the first header

    def read(self, indices: Sequence[int], short_side: int | None = None) -> np.ndarray:
        """Images at ``indices`` (repeats read once) as ``len x H x W x 3`` uint8, BGR, scaled
        to ``short_side`` when it is given."""
        images: dict[int, np.ndarray] = {}
        reduced = None  # the short side to decode each JPEG at, when a reduction applies
        if short_side is not None:
            if self._jpeg_size is None:
                self._jpeg_size = jpeg_size(self.paths[indices[0]])
            if min(self._jpeg_size) >= 2 * short_side:
                reduced = short_side
        for i in indices:
            if i not in images:
                images[i] = load_image(self.paths[i], reduced, self._jpeg_size)
                self.frames_decoded += 1
                DECODE_STATS["frames"] += 1
        shapes = {img.shape for img in images.values()}
        if len(shapes) > 1:
            raise DataError(
                f"{self.paths[0]}: the frames of one video differ in size: {sorted(shapes)}"
            )
        frames = np.stack([images[i] for i in indices])
        if short_side is not None and reduced is None:  # no reduced decode: resize the clip
            start = time.perf_counter()
            frames = resize_short_side(frames, short_side)
            DECODE_STATS["convert_s"] += time.perf_counter() - start
        return frames


# cv2.imdecode flags for a JPEG decoded at 1/k of each side.
_REDUCED = (
    (8, cv2.IMREAD_REDUCED_COLOR_8),
    (4, cv2.IMREAD_REDUCED_COLOR_4),
    (2, cv2.IMREAD_REDUCED_COLOR_2),
)


def load_image(
    path: str, short_side: int | None = None, size: tuple[int, int] | None = None
) -> np.ndarray:
    """One image file as H x W x 3 uint8 BGR, scaled to ``short_side`` when it is given (see the
    module docstring); a DataError naming the file when it cannot be read. ``size`` is the
    JPEG's (width, height) when known (the frames of one video share it), else read from its
    header."""
    start = time.perf_counter()
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise DataError(f"{path}: cannot read frame: {e.strerror or e}") from None
    decoding = time.perf_counter()
    DECODE_STATS["open_s"] += decoding - start
    flag, target = cv2.IMREAD_COLOR, None
    if short_side is not None and data[:2].tobytes() == b"\xff\xd8":  # a JPEG
        width, height = size or _header_size(data)
        if width and min(height, width) >= 2 * short_side:
            flag = next(f for k, f in _REDUCED if min(height, width) >= k * short_side)
            target = short_side_shape(height, width, short_side)
    image = cv2.imdecode(data, flag) if data.size else None
    resizing = time.perf_counter()
    DECODE_STATS["decode_s"] += resizing - decoding
    if image is None:
        raise DataError(f"{path}: not a readable image (empty or corrupt)")
    if target is not None and image.shape[:2] != target:
        image = cv2.resize(image, target[::-1], interpolation=cv2.INTER_LINEAR)
    elif target is None and short_side is not None:
        image = resize_short_side(image[None], short_side)[0]
    DECODE_STATS["convert_s"] += time.perf_counter() - resizing
    return image


@functools.lru_cache(maxsize=1 << 16)
def jpeg_size(path: str) -> tuple[int, int]:
    """(width, height) from an image file's header, without decoding it; (0, 0) if unreadable.
    Kept per path: a reader asks for its video's first frame once per clip."""
    return _header_size(path)


def _header_size(source) -> tuple[int, int]:
    """(width, height) from the header of an image file or in-memory bytes (``np.ndarray``)."""
    if isinstance(source, np.ndarray):
        source = io.BytesIO(source.tobytes())
    try:
        with Image.open(source) as image:
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return 0, 0
