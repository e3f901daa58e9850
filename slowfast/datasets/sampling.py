"""Temporal sampling: which frame indices of a video make up one clip.

Three rules, all PySlowFast's, written as pure functions of integers and an explicit random
generator so they can be tested number by number:

* :func:`clip_indices` (Kinetics, encoded videos): ``num_frames`` frames spaced over
  ``num_frames * sampling_rate`` frames at ``target_fps``, converted to the video's own frame rate;
  a random position for training, view ``i`` of ``n`` at ``i/n`` of the free range for testing.
* :func:`segment_indices` (SSv2): the video cut into ``num_frames`` segments, one frame each —
  random in training, the middle one in testing.
* :func:`stride_indices` (Charades): consecutive frames ``sampling_rate`` apart; a random start in
  training, ``n`` starts spread evenly from the first to the last possible one in testing.

Indices that would fall outside the video are clamped to its first or last frame, so a video
shorter than the clip repeats frames instead of failing.
"""

from __future__ import annotations

import random

import torch

# The view argument that asks for random (training) sampling.
RANDOM_VIEW = -1


def clip_span(num_frames: int, sampling_rate: int, video_fps: float, target_fps: float) -> float:
    """How many of the video's own frames a clip covers (at least one)."""
    return max(1.0, num_frames * sampling_rate * video_fps / target_fps)


def clip_indices(
    video_frames: int,
    num_frames: int,
    sampling_rate: int,
    video_fps: float,
    target_fps: float,
    view: int,
    num_views: int,
    rng: random.Random,
) -> list[int]:
    """Frame indices of one clip of an encoded video (PySlowFast's ``get_start_end_idx`` rule).

    ``view`` is :data:`RANDOM_VIEW` for a random start, else the index of the test view among
    ``num_views``; the start is then ``view / num_views`` of the range left after the clip.
    """
    span = clip_span(num_frames, sampling_rate, video_fps, target_fps)
    free = max(video_frames - span, 0.0)
    if view == RANDOM_VIEW:
        start = rng.uniform(0.0, free)
    else:
        _check_view(view, num_views)
        start = free * view / num_views
    # Evenly spaced over [start, start + span - 1], then truncated: PySlowFast's exact numbers.
    positions = torch.linspace(start, start + span - 1, num_frames)
    positions = torch.clamp(positions, 0, max(video_frames - 1, 0))
    return positions.long().tolist()


def window_clip_indices(
    video_frames: int,
    num_frames: int,
    sampling_rate: int,
    video_fps: float,
    target_fps: float,
    window: tuple[float, float],
    rng: random.Random,
) -> list[int]:
    """A random clip of :func:`clip_indices`' spacing whose start lies in ``window`` = (first
    frame, span in frames): several clips cut from one decoded stretch of a video, each at its
    own position inside it (``DATA.CLIPS_PER_DECODE``). One draw from ``rng``, as a random clip."""
    span = clip_span(num_frames, sampling_rate, video_fps, target_fps)
    first, width = window
    start = first + rng.uniform(0.0, max(width - span, 0.0))
    positions = torch.linspace(start, start + span - 1, num_frames)
    positions = torch.clamp(positions, 0, max(video_frames - 1, 0))
    return positions.long().tolist()


def segment_indices(video_frames: int, num_frames: int, view: int, rng: random.Random) -> list[int]:
    """One frame from each of ``num_frames`` equal segments (PySlowFast's SSv2 rule).

    Training (``view`` == :data:`RANDOM_VIEW`) picks a random frame in each segment, testing its
    middle frame; every test view therefore gets the same frames.
    """
    seg_size = (video_frames - 1) / num_frames
    indices = []
    for i in range(num_frames):
        first = round(seg_size * i)
        last = round(seg_size * (i + 1))
        indices.append(rng.randint(first, last) if view == RANDOM_VIEW else (first + last) // 2)
    return indices


def stride_indices(
    video_frames: int,
    num_frames: int,
    sampling_rate: int,
    view: int,
    num_views: int,
    rng: random.Random,
) -> list[int]:
    """``num_frames`` frames ``sampling_rate`` apart (PySlowFast's Charades rule).

    Training starts at a random frame; a clip longer than the video may start before frame 0 (the
    indices are clamped). Test view ``i`` of ``n`` starts at ``round(i * free / (n - 1))``, free
    being the frames left after the clip; a single view takes the middle.
    """
    length = (num_frames - 1) * sampling_rate + 1
    if view == RANDOM_VIEW:
        if length > video_frames:
            start = rng.randint(video_frames - length, 0)
        else:
            start = rng.randint(0, video_frames - length)
    else:
        _check_view(view, num_views)
        free = max(video_frames - length, 0)
        start = round(free / 2) if num_views == 1 else round(free * view / (num_views - 1))
    return [min(max(start + i * sampling_rate, 0), video_frames - 1) for i in range(num_frames)]


def draw_sampling_rate(
    sampling_rate: int, long_cycle_sampling_rate: int, rng: random.Random
) -> int:
    """The sampling rate for one training clip.

    Multigrid's long cycle uses fewer frames per clip; with ``long_cycle_sampling_rate`` > 0 the
    rate is drawn uniformly from ``[sampling_rate, long_cycle_sampling_rate]`` so that some clips
    still span as much time as the full-length clips do.
    """
    if long_cycle_sampling_rate > 0:
        return rng.randint(sampling_rate, max(sampling_rate, long_cycle_sampling_rate))
    return sampling_rate


def _check_view(view: int, num_views: int) -> None:
    if not 0 <= view < num_views:
        raise ValueError(f"test view {view} is outside [0, {num_views})")
