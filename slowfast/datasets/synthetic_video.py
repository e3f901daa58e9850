"""Rendering the synthetic videos: one moving object per class over a drifting, noisy texture.

The classes, their templates and the drawing of each frame; :mod:`slowfast.datasets.synthetic`
writes the rendered frames as a dataset. See its docstring for what the classes are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

# One SSv2-style template per class; classes 2k and 2k+1 share their appearance.
CLASS_TEMPLATES = (
    "Moving [something] from left to right",
    "Moving [something] from right to left",
    "Moving [something] down",
    "Moving [something] up",
    "Turning [something] clockwise",
    "Turning [something] anticlockwise",
    "[Something] growing",
    "[Something] shrinking",
    "[Something] changing colour one way",
    "[Something] changing colour the other way",
    "Shaking [something] fast",
    "Shaking [something] slowly",
)
MAX_CLASSES = len(CLASS_TEMPLATES)
_PALETTE = np.array(
    [[230, 40, 40], [40, 200, 60], [50, 90, 240], [240, 220, 40], [230, 60, 220], [40, 220, 230]],
    dtype=np.float32,
)
_SHAPES = ("square", "disc", "diamond")


def class_names(num_classes: int) -> list[str]:
    """The label text of each class (its template without brackets)."""
    return [t.replace("[", "").replace("]", "") for t in CLASS_TEMPLATES[:num_classes]]


@dataclass
class Actor:
    """One object performing one class's motion during [first, last] (frame indices)."""

    label: int
    first: int
    last: int
    shape: str
    colours: np.ndarray  # 3 x 3 RGB
    size: float  # pixels
    center: tuple[float, float]
    period: float  # seconds
    phase: float  # in [0, 1)


def _draw(frame: np.ndarray, actor: Actor, t: float) -> None:
    """Draw ``actor`` at time ``t`` (seconds) onto ``frame`` (H x W x 3 float32, RGB)."""
    h, w = frame.shape[:2]
    cx, cy = actor.center
    size, colour, angle = actor.size, actor.colours[0], 0.0
    cycle = (t / actor.period + actor.phase) % 1.0
    kind, reverse = divmod(actor.label, 2)
    if kind == 0:  # left <-> right: the same path, mirrored
        x = (cycle * (w + size)) - size / 2
        cx = w - x if reverse else x
    elif kind == 1:  # down <-> up
        y = (cycle * (h + size)) - size / 2
        cy = h - y if reverse else y
    elif kind == 2:  # a bar turning clockwise <-> anticlockwise (mirror images)
        angle = (-1 if reverse else 1) * math.pi * cycle
    elif kind == 3:  # growing <-> shrinking
        size *= 0.15 + 0.85 * (1 - cycle if reverse else cycle)
    elif kind == 4:  # colours in order 0,1,2 <-> 0,2,1
        step = int(cycle * 3) % 3
        colour = actor.colours[(0, 2, 1)[step] if reverse else step]
    else:  # shaking fast <-> slowly
        cycles = t / (actor.period * (2.0 if reverse else 0.4)) + actor.phase
        cx = cx + 0.2 * w * math.sin(2 * math.pi * cycles)
    color = tuple(float(c) for c in colour)
    if kind == 2:
        dx, dy = math.cos(angle) * size, math.sin(angle) * size
        p0 = (int(round(cx - dx)), int(round(cy - dy)))
        p1 = (int(round(cx + dx)), int(round(cy + dy)))
        cv2.line(frame, p0, p1, color, max(2, int(size / 4)), cv2.LINE_AA)
    elif actor.shape == "disc":
        cv2.circle(frame, (int(round(cx)), int(round(cy))), int(size / 2), color, -1, cv2.LINE_AA)
    else:
        r = size / 2
        if actor.shape == "square":
            pts = [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
        else:
            pts = [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]
        poly = np.round(np.array(pts)).astype(np.int32)
        cv2.fillPoly(frame, [poly], color, cv2.LINE_AA)


# With ``pair_shapes``: the shape of each class pair (the turning pair is always drawn as a bar).
PAIR_SHAPES = ("square", "disc", "square", "diamond", "square", "disc")


def make_actor(
    label: int,
    first: int,
    last: int,
    width: int,
    height: int,
    rng,
    period_scale: float = 1.0,
    pair_shapes: bool = False,
) -> Actor:
    """A random object for ``label``; its motion repeats every 0.85-1.15 s times
    ``period_scale`` (a larger scale: slower motion, smaller steps between frames). With
    ``pair_shapes`` the shape tells the class pair (an appearance cue, as a scene or an object
    often tells a Kinetics class); the direction within the pair still needs the motion."""
    short = min(width, height)
    shape = _SHAPES[int(rng.integers(len(_SHAPES)))]  # drawn either way: the same random stream
    return Actor(
        label=label,
        first=first,
        last=last,
        shape=PAIR_SHAPES[label // 2] if pair_shapes else shape,
        colours=_PALETTE[rng.choice(len(_PALETTE), size=3, replace=False)],
        size=float(rng.uniform(0.2, 0.3) * short),
        center=(float(rng.uniform(0.3, 0.7) * width), float(rng.uniform(0.3, 0.7) * height)),
        period=float(rng.uniform(0.85, 1.15)) * period_scale,
        phase=float(rng.uniform()),
    )


def render_video(
    actors: Sequence[Actor], width: int, height: int, fps: float, num_frames: int, rng
) -> np.ndarray:
    """``num_frames x height x width x 3`` uint8 RGB frames of ``actors`` over a moving texture."""
    pad = max(width, height) // 2
    coarse = rng.uniform(0, 1, size=(6, 8, 3)).astype(np.float32)
    texture = cv2.resize(coarse, (width + 2 * pad, height + 2 * pad), interpolation=cv2.INTER_CUBIC)
    base = rng.uniform(40, 140, size=3).astype(np.float32)
    texture = base + 60.0 * (texture - 0.5)
    drift = rng.uniform(-0.25, 0.25, size=2) * pad  # pixels per second
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    for i in range(num_frames):
        t = i / fps
        ox = int(round(pad + np.clip(drift[0] * t, -pad, pad)))
        oy = int(round(pad + np.clip(drift[1] * t, -pad, pad)))
        frame = texture[oy : oy + height, ox : ox + width].copy()
        for actor in actors:
            if actor.first <= i <= actor.last:
                _draw(frame, actor, t)
        frame += rng.normal(0.0, 3.0, size=frame.shape).astype(np.float32)
        frames[i] = np.clip(frame, 0, 255).astype(np.uint8)
    return frames
