"""The clip sampler a dataset is given: which frame indices of a video make up one clip.

A :class:`ClipSampler` holds what the choice depends on besides the video and the clip's shape:
the temporal rule (``sampling``'s functions: "clip" for encoded videos, "segment" for SSv2,
"stride" for Charades), the number of temporal test views, and the frame rate clips are measured
at. Datasets receive one and never read the config for it; :meth:`ClipSampler.from_cfg` is the
edge that builds it from ``TEST.NUM_ENSEMBLE_VIEWS`` and ``DATA.TARGET_FPS``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from fvcore.common.config import CfgNode

from slowfast.datasets.sampling import (
    clip_indices,
    clip_span,
    segment_indices,
    stride_indices,
    window_clip_indices,
)

RULES = ("clip", "segment", "stride")


@dataclass(frozen=True)
class ClipSampler:
    """Frame indices per clip for one temporal ``rule``, ``num_test_views`` test views and
    clips measured at ``target_fps`` (the "clip" rule converts them to the video's frame rate)."""

    rule: str = "clip"
    num_test_views: int = 1
    target_fps: float = 30.0

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"ClipSampler.rule must be one of {RULES}, got {self.rule!r}")
        if self.num_test_views < 1:
            raise ValueError(f"ClipSampler.num_test_views must be >= 1, got {self.num_test_views}")

    @classmethod
    def from_cfg(cls, cfg: CfgNode, rule: str) -> ClipSampler:
        """The sampler of a dataset whose temporal rule is ``rule``, with the config's views."""
        return cls(rule, cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.DATA.TARGET_FPS)

    def indices(
        self,
        video_frames: int,
        video_fps: float | None,
        view: int,
        sampling_rate: int,
        num_frames: int,
        rng: random.Random,
    ) -> list[int]:
        """The clip's frame indices: random for ``view`` = ``sampling.RANDOM_VIEW``, else test
        view ``view`` of :attr:`num_test_views`."""
        if self.rule == "clip":
            return clip_indices(
                video_frames,
                num_frames,
                sampling_rate,
                video_fps,
                self.target_fps,
                view,
                self.num_test_views,
                rng,
            )
        if self.rule == "segment":
            return segment_indices(video_frames, num_frames, view, rng)
        return stride_indices(
            video_frames, num_frames, sampling_rate, view, self.num_test_views, rng
        )

    def shared_window(
        self,
        video_frames: int,
        video_fps: float | None,
        num_frames: int,
        max_rate: int,
        rng: random.Random,
    ) -> tuple[float, float] | None:
        """(first frame, span) of a stretch that several random clips of one decode share: as
        long as the longest clip (at ``max_rate``), at a random position. None for frame lists
        (no frame rate) and the segment and stride rules, whose clips are drawn over the whole
        video as usual (a frame file costs the same wherever it is)."""
        if self.rule != "clip" or not video_fps:
            return None
        span = clip_span(num_frames, max_rate, video_fps, self.target_fps)
        return rng.uniform(0.0, max(video_frames - span, 0.0)), span

    def window_indices(
        self,
        video_frames: int,
        video_fps: float,
        num_frames: int,
        sampling_rate: int,
        window: tuple[float, float],
        rng: random.Random,
    ) -> list[int]:
        """A random clip inside a :meth:`shared_window`."""
        return window_clip_indices(
            video_frames, num_frames, sampling_rate, video_fps, self.target_fps, window, rng
        )
