"""The most a loader-bound multigrid run can gain, from the schedule's clip counts alone.

A loader's cost per clip has parts that scale differently with the clip's shape: opening and
seeking the file costs the same for every clip, decoding a video costs per frame at the file's
resolution whatever the crop, and colour conversion, resizing, cropping and packing cost per
pixel at the clip's size. The schedule fixes, per training video, how many clips, frames and
pixels multigrid loads against the baseline, so each part has its own ceiling on the loader-bound
speed-up; a loader mixes them in the proportions of a full clip's cost. This is why a decoder
that cannot decode below the file's resolution cannot follow the compute saving.

For video the mix is an upper bound: a coarse clip decodes more frames per sampled frame than a
full one (from the keyframe before each sampled group), and its drawn scale, which conversion
pays for, shrinks less than its crop. It holds for a loader that decodes each clip on its own;
cutting several clips from one decode (``DATA.CLIPS_PER_DECODE``) shares the per-clip and
per-frame costs between them and is not bound by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from slowfast.datasets.shape import ClipShape


@dataclass(frozen=True)
class Ceilings:
    """Baseline over multigrid load, per video, if every clip cost only what one part costs."""

    clips: float  # a fixed cost per clip (open, seek)
    frames: float  # a cost per sampled frame, whatever the crop (full-resolution decoding)
    pixels: float  # a cost per sampled pixel at the crop size (conversion, crop, pack)

    def mixed(self, clip_share: float, frame_share: float) -> float:
        """The speed-up of a loader whose full clip spends these shares per clip and per frame
        (the rest per pixel)."""
        pixel_share = 1.0 - clip_share - frame_share
        if min(clip_share, frame_share, pixel_share) < 0:
            raise ValueError(
                f"shares must be in [0, 1] and sum to at most 1, got {clip_share}, {frame_share}"
            )
        return 1.0 / (
            clip_share / self.clips + frame_share / self.frames + pixel_share / self.pixels
        )

    def max_frame_share(self, clip_share: float, target: float) -> float | None:
        """The largest per-frame share of a full clip at which :meth:`mixed` still reaches
        ``target`` with this per-clip share; None where no share does."""
        # 1/target = c/Rc + f/Rf + (1-c-f)/Rp, solved for f.
        rest = 1.0 / target - clip_share / self.clips - (1.0 - clip_share) / self.pixels
        slope = 1.0 / self.frames - 1.0 / self.pixels
        if rest < 0:
            return None
        if slope <= 0:
            return 1.0 - clip_share
        return min(rest / slope, 1.0 - clip_share)


def loader_ceilings(
    per_video: Mapping[ClipShape, float], full: ClipShape, baseline_epochs: float
) -> Ceilings:
    """The three ceilings for multigrid's ``per_video`` clips per shape against
    ``baseline_epochs`` clips of ``full``."""

    def load(weight) -> float:
        return sum(n * weight(s) for s, n in per_video.items())

    def ratio(weight) -> float:
        return baseline_epochs * weight(full) / load(weight)

    return Ceilings(
        clips=ratio(lambda s: 1.0),
        frames=ratio(lambda s: s.num_frames),
        pixels=ratio(lambda s: s.num_frames * s.crop_size**2),
    )
