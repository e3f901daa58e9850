"""Spatial transforms of a clip: scale the short side, crop, flip, normalise.

Clips are ``T x H x W x 3`` uint8 arrays until the last step, so each kept frame is resized once,
with OpenCV's bilinear filter on 8-bit data (the same sample positions as PySlowFast's
``interpolate(..., mode="bilinear", align_corners=False)`` on floats, at a fraction of the cost);
crops and flips are views. :func:`to_normalized_tensor` ends with ``C x T x H x W`` float32
``(x / 255 - mean) / std``.

Sizes follow PySlowFast: the short side becomes ``size`` and the long side
``floor(long / short * size)``; test crops sit at the start, centre (``ceil`` of half the slack)
and end of the long side.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import TypeVar

import cv2
import numpy as np
import torch

T = TypeVar("T")


def short_side_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) after scaling the short side to ``size``, keeping the aspect ratio."""
    if width <= height:
        return int(math.floor(height / width * size)), size
    return size, int(math.floor(width / height * size))


def resize_short_side(frames: np.ndarray, size: int) -> np.ndarray:
    """Scale every frame of a ``T x H x W x C`` clip so that its short side is ``size``."""
    height, width = frames.shape[1:3]
    if min(height, width) == size:
        return frames  # already there (a reader scaled it while decoding)
    new_h, new_w = short_side_shape(height, width, size)
    if (new_h, new_w) == (height, width):
        return frames
    out = np.empty((frames.shape[0], new_h, new_w, frames.shape[3]), dtype=frames.dtype)
    for t in range(frames.shape[0]):
        cv2.resize(frames[t], (new_w, new_h), dst=out[t], interpolation=cv2.INTER_LINEAR)
    return out


def draw_scale(
    min_scale: int, max_scale: int, rng: random.Random, inverse_uniform: bool = False
) -> int:
    """A short-side size drawn uniformly from [min_scale, max_scale] (or uniformly in 1/size)."""
    if inverse_uniform:
        return int(round(1.0 / rng.uniform(1.0 / max_scale, 1.0 / min_scale)))
    return int(round(rng.uniform(min_scale, max_scale)))


def random_crop_offsets(height: int, width: int, crop: int, rng: random.Random) -> tuple[int, int]:
    """Top-left corner of a random ``crop`` x ``crop`` window (any position that fits)."""
    return rng.randint(0, max(height - crop, 0)), rng.randint(0, max(width - crop, 0))


def uniform_crop_offsets(height: int, width: int, crop: int, spatial_idx: int) -> tuple[int, int]:
    """Top-left corner of test crop ``spatial_idx``: 0 start, 1 centre, 2 end of the long side."""
    if spatial_idx not in (0, 1, 2):
        raise ValueError(f"spatial_idx must be 0, 1 or 2, got {spatial_idx}")
    y = int(math.ceil((height - crop) / 2))
    x = int(math.ceil((width - crop) / 2))
    if height > width:
        y = {0: 0, 1: y, 2: height - crop}[spatial_idx]
    else:
        x = {0: 0, 1: x, 2: width - crop}[spatial_idx]
    return y, x


def crop(frames: np.ndarray, y: int, x: int, size: int) -> np.ndarray:
    """The ``size`` x ``size`` window at (y, x) of every frame (a view)."""
    return frames[:, y : y + size, x : x + size]


def train_scale(
    min_scale: int,
    max_scale: int,
    crop_size: int,
    rng: random.Random,
    inverse_uniform: bool = False,
) -> int:
    """The short side :func:`train_spatial` scales a clip to (at least the crop)."""
    return max(draw_scale(min_scale, max_scale, rng, inverse_uniform), crop_size)


def peek(rng: random.Random, draw: Callable[[random.Random], T]) -> T:
    """What ``draw(rng)`` would return, without advancing ``rng``: a reader can decode straight
    to the scale the transform is about to draw and leave the stream unchanged."""
    probe = random.Random()
    probe.setstate(rng.getstate())
    return draw(probe)


def train_spatial(
    frames: np.ndarray,
    min_scale: int,
    max_scale: int,
    crop_size: int,
    random_flip: bool,
    rng: random.Random,
    inverse_uniform: bool = False,
) -> np.ndarray:
    """Random short-side scale in [min_scale, max_scale], random crop, random horizontal flip."""
    size = train_scale(min_scale, max_scale, crop_size, rng, inverse_uniform)
    frames = resize_short_side(frames, size)
    y, x = random_crop_offsets(frames.shape[1], frames.shape[2], crop_size, rng)
    frames = crop(frames, y, x, crop_size)
    if random_flip and rng.random() < 0.5:
        frames = frames[:, :, ::-1]
    return frames


def test_spatial(frames: np.ndarray, scale: int, crop_size: int, spatial_idx: int) -> np.ndarray:
    """Short side to ``scale`` (at least the crop), then the deterministic crop ``spatial_idx``."""
    frames = resize_short_side(frames, max(scale, crop_size))
    y, x = uniform_crop_offsets(frames.shape[1], frames.shape[2], crop_size, spatial_idx)
    return crop(frames, y, x, crop_size)


def to_normalized_tensor(
    frames: np.ndarray, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """``T x H x W x C`` uint8 -> ``C x T x H x W`` float32 holding ``(x / 255 - mean) / std``."""
    # Reorder while still uint8 (a quarter of the bytes; handles crop and flip views), then
    # convert the contiguous result: measured faster than converting a strided view.
    clip = torch.from_numpy(np.ascontiguousarray(frames.transpose(3, 0, 1, 2))).float()
    scale = 1.0 / (255.0 * torch.tensor(std, dtype=torch.float32))
    shift = torch.tensor(mean, dtype=torch.float32) / torch.tensor(std, dtype=torch.float32)
    return clip.mul_(scale.view(-1, 1, 1, 1)).sub_(shift.view(-1, 1, 1, 1))
