"""The shape of one training clip, as a batch sampler asks a dataset for it.

Multigrid training changes the clip shape from phase to phase and, inside a short cycle, from
iteration to iteration. The schedule decides the shape; a batch sampler hands it to the dataset
with each index as ``dataset[(index, shape)]``; the dataset only obeys it. A dataset asked for a
plain index uses the configured shape (``DATA.NUM_FRAMES``, ``DATA.TRAIN_CROP_SIZE``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClipShape:
    """Frames, crop, scale jitter and sampling rate of one training clip.

    The short side is resized to a random size in ``[min_scale, max_scale]`` before the
    ``crop_size`` crop. The sampling rate is ``sampling_rate``, or with ``max_sampling_rate`` above
    it a rate drawn uniformly from ``[sampling_rate, max_sampling_rate]`` (multigrid's long cycle:
    some clips of fewer frames still span as much time as a full clip).
    """

    num_frames: int
    crop_size: int
    min_scale: int
    max_scale: int
    sampling_rate: int
    max_sampling_rate: int = 0

    def __post_init__(self) -> None:
        for name in ("num_frames", "crop_size", "min_scale", "sampling_rate"):
            if getattr(self, name) < 1:
                raise ValueError(f"ClipShape.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_scale < self.min_scale:
            raise ValueError(
                f"ClipShape: max_scale {self.max_scale} is below min_scale {self.min_scale}"
            )

    @property
    def key(self) -> str:
        """'TxS', the label logs and compute accounting use for this shape."""
        return f"{self.num_frames}x{self.crop_size}"
