"""Loading clips stored as image files (SSv2, Charades frame lists).

Only the frames a clip uses are read. Images come back in OpenCV's BGR channel order, exactly as
PySlowFast reads them; that is why its SSv2 and Charades configs set
``DATA.REVERSE_INPUT_CHANNEL True`` (the model then sees RGB), and keeping the order keeps those
configs and checkpoints interchangeable.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from slowfast.datasets.errors import DataError


class FrameListReader:
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

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Images at ``indices`` (repeats read once) as ``len x H x W x 3`` uint8, BGR."""
        images: dict[int, np.ndarray] = {}
        for i in indices:
            if i not in images:
                images[i] = load_image(self.paths[i])
                self.frames_decoded += 1
        shapes = {img.shape for img in images.values()}
        if len(shapes) > 1:
            raise DataError(
                f"{self.paths[0]}: the frames of one video differ in size: {sorted(shapes)}"
            )
        return np.stack([images[i] for i in indices])

    def close(self) -> None:
        pass

    def __enter__(self) -> FrameListReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_image(path: str) -> np.ndarray:
    """One image file as H x W x 3 uint8 BGR; a DataError naming the file when it cannot be read."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise DataError(f"{path}: cannot read frame: {e.strerror or e}") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise DataError(f"{path}: not a readable image (empty or corrupt)")
    return image
