"""The long-cycle stages of a schedule and what a phase at each stage trains with: the
short-cycle shapes, their jitter ranges and the BN setting for the phase's batch size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fvcore.common.config import CfgNode

from slowfast.models.build import input_multiples
from slowfast.multigrid.cfg_input import Baseline, need
from slowfast.multigrid.phase import BNSetting


@dataclass(frozen=True)
class Stage:
    """One long-cycle shape: frames, crop, its batch multiplier and short-cycle average."""

    index: int
    num_frames: int
    crop_size: int
    multiplier: int
    avg_multiplier: float


def round_to_multiple(value: float, multiple: int) -> float:
    """``value`` rounded to the nearest multiple of ``multiple`` (at least one multiple); with
    ``multiple`` 1, ``value`` itself (PySlowFast's shapes, unchanged)."""
    if multiple <= 1:
        return value
    return float(max(multiple, multiple * round(value / multiple)))


def short_cycle_crops(cfg: CfgNode, base: Baseline, crop: int) -> list[float]:
    """The short-cycle crops at a long-cycle stage of crop ``crop``: SHORT_CYCLE_FACTORS times
    the default crop (PySlowFast) or times the stage's own crop (the paper's rule), rounded to
    the model's crop multiple (:func:`~slowfast.models.build.input_multiples`)."""
    ref = crop if cfg.MULTIGRID.SHORT_CYCLE_RULE == "paper" else base.crop_size
    _, multiple = input_multiples(cfg)
    return [round_to_multiple(ref * f, multiple) for f in cfg.MULTIGRID.SHORT_CYCLE_FACTORS]


def long_cycle_stages(cfg: CfgNode, base: Baseline) -> list[Stage]:
    """The long-cycle shapes, frames and crops rounded to the model's multiples (MViT's token
    grids; 1 for the CNNs). The batch multiplier of (T, S) keeps B x T x S^2 at the default's
    (for MViT, the tokens: T x S^2 over the fixed patch size); with the short cycle a stage's
    average multiplier also counts the short-cycle crops."""
    default_voxels = float(base.num_frames * base.crop_size**2)
    frame_multiple, crop_multiple = input_multiples(cfg)
    stages = []
    for k, (t_factor, s_factor) in enumerate(cfg.MULTIGRID.LONG_CYCLE_FACTORS):
        # The default shape itself (factor 1) stays the config's, whatever the multiples.
        t_multiple = frame_multiple if t_factor < 1 else 1
        s_multiple = crop_multiple if s_factor < 1 else 1
        frames = int(round(round_to_multiple(base.num_frames * t_factor, t_multiple)))
        crop = int(round(round_to_multiple(base.crop_size * s_factor, s_multiple)))
        need(
            frames >= 1 and crop >= 1,
            "MULTIGRID.LONG_CYCLE_FACTORS",
            f"stage {k} gives {frames} frames x {crop} crop",
        )
        crops = short_cycle_crops(cfg, base, crop) if cfg.MULTIGRID.SHORT_CYCLE else []
        mults = [int(round(default_voxels / (frames * c * c))) for c in crops + [crop]]
        need(
            min(mults) >= 1,
            "MULTIGRID.LONG_CYCLE_FACTORS",
            f"stage {k} ({frames} frames x {crop} crop) is larger than the default shape",
        )
        stages.append(Stage(k, frames, crop, mults[-1], sum(mults) / len(mults)))
    return stages


def bn_setting(cfg: CfgNode, batch_size: int) -> BNSetting:
    """Keep BN statistics over MULTIGRID.BN_BASE_SIZE clips: split larger per-process batches
    (sub-BN), synchronise smaller ones over several processes (sync-BN)."""
    processes = max(cfg.NUM_GPUS, 1) * cfg.NUM_SHARDS
    factor = float(batch_size / processes) / cfg.MULTIGRID.BN_BASE_SIZE
    if factor < 1:
        # Synchronise over at most the processes there are, in groups that divide them; a
        # single process has nobody to synchronise with and keeps plain BN.
        sync = min(int(1.0 / factor), processes)
        while processes % sync:
            sync -= 1
        if sync == 1:
            return BNSetting("batchnorm")
        return BNSetting("sync_batchnorm", num_sync_devices=sync)
    if factor > 1:
        return BNSetting("sub_batchnorm", num_splits=int(factor))
    return BNSetting("batchnorm")


def short_cycle_shapes(
    cfg: CfgNode, base: Baseline, batch: int, crop: int, enabled: bool = True
) -> tuple[tuple[int, int], ...]:
    """(global batch, crop) of each iteration of a short cycle at a long-cycle shape: the batch
    grows by the squared crop ratio, rounded, as PySlowFast's short-cycle batch sampler does."""
    if not (cfg.MULTIGRID.SHORT_CYCLE and enabled):
        return ((batch, crop),)
    shapes = [
        (batch * max(1, int(round((crop / c) ** 2))), int(round(c)))
        for c in short_cycle_crops(cfg, base, crop)
    ]
    return tuple(shapes) + ((batch, crop),)


def jitter_scales(
    cfg: CfgNode, base: Baseline, short_cycle: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int], ...]:
    """The short-side jitter range of each short-cycle shape, as PySlowFast's datasets set it:
    the lower end of DATA.TRAIN_JITTER_SCALES scaled by crop / default crop, the upper end kept
    (a smaller crop covers the same part of the frame on a coarser grid, or zooms in)."""
    low, high = cfg.DATA.TRAIN_JITTER_SCALES
    return tuple((int(round(low * crop / base.crop_size)), int(high)) for _, crop in short_cycle)
