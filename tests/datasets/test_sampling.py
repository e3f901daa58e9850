"""Temporal sampling rules, number by number (PySlowFast's formulas)."""

from __future__ import annotations

import random

from slowfast.datasets.sampling import (
    RANDOM_VIEW,
    clip_indices,
    clip_span,
    draw_sampling_rate,
    segment_indices,
    stride_indices,
)


def test_clip_span_converts_to_the_video_frame_rate():
    assert clip_span(8, 8, 30, 30) == 64
    assert clip_span(8, 8, 60, 30) == 128
    assert clip_span(32, 2, 15, 30) == 32
    assert clip_span(1, 1, 1, 30) == 1.0  # never below one frame


def test_test_views_are_spread_over_the_video():
    rng = random.Random(0)
    view = lambda v, n=300, fps=30: clip_indices(n, 8, 8, fps, 30, v, 10, rng)  # noqa: E731
    assert view(0) == [0, 9, 18, 27, 36, 45, 54, 63]
    assert view(5) == [118, 127, 136, 145, 154, 163, 172, 181]  # start 236 * 5 / 10
    assert view(9) == [212, 221, 230, 239, 248, 257, 266, 275]  # start 212.4
    # A 60 fps video: the clip covers twice as many of its frames.
    assert view(0, fps=60) == [0, 18, 36, 54, 72, 90, 108, 127]
    # A video shorter than the clip: indices clamp to the last frame.
    assert view(3, n=20) == [0, 9, 18, 19, 19, 19, 19, 19]


def test_training_clips_start_anywhere_and_repeat_with_the_seed():
    starts = set()
    for seed in range(40):
        indices = clip_indices(300, 8, 8, 30, 30, RANDOM_VIEW, 10, random.Random(seed))
        assert indices == [indices[0] + 9 * k for k in range(8)]
        assert 0 <= indices[0] <= 236
        assert indices == clip_indices(300, 8, 8, 30, 30, RANDOM_VIEW, 10, random.Random(seed))
        starts.add(indices[0])
    assert len(starts) > 30 and min(starts) < 40 and max(starts) > 196


def test_segment_sampling_middle_in_test_random_within_segment_in_training():
    # 30 frames, 4 segments of 7.25: bounds round to [0,7], [7,14], [14,22], [22,29].
    assert segment_indices(30, 4, 0, random.Random(0)) == [3, 10, 18, 25]
    rng = random.Random(1)
    seen = [set() for _ in range(4)]
    for _ in range(200):
        for i, (index, (lo, hi)) in enumerate(
            zip(segment_indices(30, 4, RANDOM_VIEW, rng), [(0, 7), (7, 14), (14, 22), (22, 29)])
        ):
            assert lo <= index <= hi
            seen[i].add(index)
    assert [len(s) for s in seen] == [8, 8, 9, 8]


def test_stride_sampling_views_and_clamping():
    rng = random.Random(0)
    # 50 frames, 8 frames 2 apart span 15, leaving 35.
    assert stride_indices(50, 8, 2, 0, 2, rng) == list(range(0, 15, 2))
    assert stride_indices(50, 8, 2, 1, 2, rng) == list(range(35, 50, 2))
    assert stride_indices(50, 8, 2, 1, 3, rng)[0] == 18  # round(17.5)
    assert stride_indices(50, 8, 2, 0, 1, rng)[0] == 18  # one view: the middle
    assert stride_indices(10, 8, 2, 0, 2, rng) == [0, 2, 4, 6, 8, 9, 9, 9]
    for _ in range(50):  # training on a short video may start before frame 0
        indices = stride_indices(10, 8, 2, RANDOM_VIEW, 2, rng)
        assert all(0 <= i <= 9 for i in indices) and indices == sorted(indices)


def test_long_cycle_sampling_rate_is_drawn_inclusively():
    rng = random.Random(0)
    assert draw_sampling_rate(2, 0, rng) == 2
    draws = {draw_sampling_rate(2, 8, rng) for _ in range(300)}
    assert draws == set(range(2, 9))


def test_window_clips_start_inside_their_window_with_one_draw():
    import random

    from slowfast.datasets.sampling import clip_indices, window_clip_indices

    starts = set()
    for seed in range(50):
        rng = random.Random(seed)
        indices = window_clip_indices(300, 8, 2, 30.0, 30.0, (100.0, 64.0), rng)
        assert len(indices) == 8 and 100 <= indices[0] <= 100 + 64 - 16
        assert indices[-1] - indices[0] in (14, 15)  # 8 frames 2 apart, truncated positions
        starts.add(indices[0])
        after = rng.random()
        same = random.Random(seed)
        clip_indices(300, 8, 2, 30.0, 30.0, -1, 1, same)
        assert same.random() == after  # the same number of draws as a random clip
    assert len(starts) > 20
    # A clip as long as the window fills it; clamped at the video's end.
    assert window_clip_indices(120, 4, 16, 30.0, 30.0, (60.0, 64.0), random.Random(0))[-1] == 119
