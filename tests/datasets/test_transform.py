"""Spatial transforms (sizes, crop positions, flips, normalisation) and pathway packing."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from slowfast.config import get_cfg
from slowfast.datasets import transform
from slowfast.datasets.packing import pack_pathway_output, slow_pathway_indices


def coordinate_clip(height: int, width: int, frames: int = 2) -> np.ndarray:
    """Red = column, green = row: a crop can be located from its top-left pixel."""
    clip = np.zeros((frames, height, width, 3), dtype=np.uint8)
    clip[..., 0] = np.arange(width)[None, None, :]
    clip[..., 1] = np.arange(height)[None, :, None]
    return clip


def test_short_side_shape_keeps_the_aspect_ratio_flooring_the_long_side():
    assert transform.short_side_shape(256, 340, 288) == (288, 382)  # 382.5 floored
    assert transform.short_side_shape(340, 256, 288) == (382, 288)
    assert transform.short_side_shape(48, 64, 40) == (40, 53)


@pytest.mark.parametrize(
    "height,width,expected",
    [
        (40, 53, {0: (0, 0), 1: (0, 7), 2: (0, 13)}),  # landscape: along the width
        (53, 40, {0: (0, 0), 1: (7, 0), 2: (13, 0)}),  # portrait: along the height
        (40, 40, {0: (0, 0), 1: (0, 0), 2: (0, 0)}),
    ],
)
def test_uniform_crop_offsets(height, width, expected):
    for idx, offset in expected.items():
        assert transform.uniform_crop_offsets(height, width, 40, idx) == offset


def test_test_spatial_takes_the_three_crops_of_the_resized_frame():
    clip = coordinate_clip(40, 53)  # already at the test scale: no resize, exact pixels
    for idx, x in ((0, 0), (1, 7), (2, 13)):
        out = transform.test_spatial(clip, 40, 40, idx)
        assert out.shape == (2, 40, 40, 3)
        assert (out[0, 0, 0, 0], out[0, 0, 0, 1]) == (x, 0)
    resized = transform.test_spatial(coordinate_clip(48, 64), 40, 40, 1)
    assert resized.shape == (2, 40, 40, 3)


def test_train_spatial_scale_crop_and_flip():
    rng = random.Random(0)
    clip = coordinate_clip(48, 64)
    corners = set()
    for _ in range(30):
        out = transform.train_spatial(clip, 48, 48, 32, False, rng)
        assert out.shape == (2, 32, 32, 3)
        x, y = int(out[0, 0, 0, 0]), int(out[0, 0, 0, 1])
        assert out[0, 0, -1, 0] == x + 31  # unflipped: columns increase
        assert 0 <= x <= 32 and 0 <= y <= 16
        corners.add((x, y))
    assert len(corners) > 20
    flipped = [transform.train_spatial(clip, 48, 48, 32, True, rng) for _ in range(40)]
    directions = {bool(out[0, 0, 0, 0] > out[0, 0, -1, 0]) for out in flipped}
    assert directions == {True, False}
    sizes = {transform.draw_scale(40, 48, rng) for _ in range(200)}
    assert sizes == set(range(40, 49))


def test_to_normalized_tensor_values_and_layout():
    clip = np.zeros((2, 4, 5, 3), dtype=np.uint8)
    clip[..., 0], clip[..., 1], clip[..., 2] = 0, 255, 51
    out = transform.to_normalized_tensor(clip, [0.45, 0.45, 0.2], [0.225, 0.225, 0.1])
    assert out.shape == (3, 2, 4, 5) and out.dtype == torch.float32 and out.is_contiguous()
    torch.testing.assert_close(out[0], torch.full((2, 4, 5), -2.0))
    torch.testing.assert_close(out[1], torch.full((2, 4, 5), 0.55 / 0.225))
    torch.testing.assert_close(out[2], torch.full((2, 4, 5), 0.0), atol=1e-6, rtol=0)


def test_pyslowfast_utils_alias():
    from slowfast.datasets.utils import tensor_normalize

    out = tensor_normalize(torch.full((1, 2, 2, 3), 255, dtype=torch.uint8), [0.5] * 3, [0.25] * 3)
    torch.testing.assert_close(out, torch.full((1, 2, 2, 3), 2.0))


def test_slow_pathway_indices_match_pyslowfast():
    assert slow_pathway_indices(32, 4).tolist() == [0, 4, 8, 13, 17, 22, 26, 31]
    assert slow_pathway_indices(8, 4).tolist() == [0, 7]
    assert slow_pathway_indices(32, 8).tolist() == [0, 10, 20, 31]


def test_pack_pathway_output():
    cfg = get_cfg()
    cfg.SLOWFAST.ALPHA = 4
    clip = torch.arange(3 * 8 * 2 * 2, dtype=torch.float32).reshape(3, 8, 2, 2)
    slow, fast = pack_pathway_output(cfg, clip)
    assert torch.equal(fast, clip) and torch.equal(slow, clip[:, [0, 7]])
    cfg.DATA.REVERSE_INPUT_CHANNEL = True
    cfg.MODEL.ARCH = "slow"
    (single,) = pack_pathway_output(cfg, clip)
    assert torch.equal(single, clip[[2, 1, 0]])
