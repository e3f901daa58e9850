"""The loader-bound ceilings: clip, frame and pixel ratios from a schedule's clip counts, their mix
for a full clip's cost shares, and the largest decode share that still reaches a target."""

import pytest

from sftools.loader_ceiling import Ceilings, loader_ceilings
from slowfast.datasets.shape import ClipShape

FULL = ClipShape(32, 224, 256, 320, 2)
COARSE = ClipShape(8, 112, 128, 320, 2, 8)


def test_ratios_count_clips_frames_and_pixels_per_video():
    # Baseline: 10 full clips per video. Multigrid: 10 coarse clips and 5 full ones.
    ceil = loader_ceilings({COARSE: 10.0, FULL: 5.0}, FULL, 10)
    assert ceil.clips == pytest.approx(10 / 15)
    assert ceil.frames == pytest.approx(320 / (80 + 160))
    full_px = 32 * 224**2
    assert ceil.pixels == pytest.approx(10 * full_px / (10 * 8 * 112**2 + 5 * full_px))


def test_the_mix_weights_each_ceiling_by_its_share_of_a_full_clip():
    ceil = Ceilings(clips=0.5, frames=2.0, pixels=4.0)
    assert ceil.mixed(0.0, 0.0) == pytest.approx(4.0)
    assert ceil.mixed(0.0, 1.0) == pytest.approx(2.0)
    assert ceil.mixed(1.0, 0.0) == pytest.approx(0.5)
    assert ceil.mixed(0.1, 0.3) == pytest.approx(1 / (0.1 / 0.5 + 0.3 / 2.0 + 0.6 / 4.0))
    with pytest.raises(ValueError, match="sum to at most 1"):
        ceil.mixed(0.6, 0.6)


def test_the_largest_decode_share_for_a_target_inverts_the_mix():
    ceil = Ceilings(clips=0.67, frames=1.46, pixels=3.27)
    share = ceil.max_frame_share(0.01, 3.0)
    assert 0 < share < 0.1
    assert ceil.mixed(0.01, share) == pytest.approx(3.0)
    # With 4% of a full clip spent opening the file, 3x is out of reach even with free decoding.
    assert ceil.mixed(0.04, 0.0) < 3.0
    assert ceil.max_frame_share(0.04, 3.0) is None
    # A target below the frame ceiling allows any share.
    assert ceil.max_frame_share(0.0, 1.2) == pytest.approx(1.0)
