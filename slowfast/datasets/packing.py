"""Turning one normalised clip into the per-pathway inputs a model takes.

Single-pathway models (``MODEL.ARCH`` in ``MODEL.SINGLE_PATHWAY_ARCH``) take the clip as it is.
SlowFast takes ``[slow, fast]``: fast is the whole clip, slow is ``T // SLOWFAST.ALPHA`` frames
picked at ``torch.linspace(0, T - 1, T // ALPHA).long()`` — PySlowFast's exact choice, so that
its checkpoints see the frames they were trained on. ``DATA.REVERSE_INPUT_CHANNEL`` reverses the
channel order (RGB <-> BGR) first.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError


def slow_pathway_indices(num_frames: int, alpha: int) -> torch.Tensor:
    """Indices (into the fast pathway's frames) of the slow pathway's frames."""
    return torch.linspace(0, num_frames - 1, num_frames // alpha).long()


@dataclass(frozen=True)
class Packing:
    """Split ``C x T x H x W`` clips into pathways: one (``alpha`` None) or SlowFast's two
    (slow every ``alpha``-th frame); ``reverse_channels`` flips the channel order first."""

    alpha: int | None = None
    reverse_channels: bool = False

    @classmethod
    def from_cfg(cls, cfg: CfgNode) -> Packing:
        """The packing ``MODEL.ARCH`` needs (with SLOWFAST.ALPHA, DATA.REVERSE_INPUT_CHANNEL)."""
        reverse = bool(cfg.DATA.REVERSE_INPUT_CHANNEL)
        if cfg.MODEL.ARCH in cfg.MODEL.SINGLE_PATHWAY_ARCH:
            return cls(None, reverse)
        if cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH:
            return cls(int(cfg.SLOWFAST.ALPHA), reverse)
        raise ConfigError(
            f"MODEL.ARCH {cfg.MODEL.ARCH!r} is in neither MODEL.SINGLE_PATHWAY_ARCH "
            f"{list(cfg.MODEL.SINGLE_PATHWAY_ARCH)} nor MODEL.MULTI_PATHWAY_ARCH "
            f"{list(cfg.MODEL.MULTI_PATHWAY_ARCH)}"
        )

    def __call__(self, frames: torch.Tensor) -> list[torch.Tensor]:
        """The list of pathway inputs for one clip."""
        if self.reverse_channels:
            frames = frames.flip(0)
        if self.alpha is None:
            return [frames]
        slow = torch.index_select(frames, 1, slow_pathway_indices(frames.shape[1], self.alpha))
        return [slow, frames]


def pack_pathway_output(cfg: CfgNode, frames: torch.Tensor) -> list[torch.Tensor]:
    """Split a ``C x T x H x W`` clip into the list of pathway inputs for ``cfg.MODEL.ARCH``
    (PySlowFast's function; the pipeline uses a :class:`Packing`)."""
    return Packing.from_cfg(cfg)(frames)
