"""``tools/benchmark.py data --multigrid``: what the loader costs at every shape of a schedule.

For a multigrid config, every clip shape its schedule trains at (long-cycle phases, short-cycle
positions, the full shape) is loaded ``--clips`` times in this process, once decoding at the
file's size and resizing afterwards (``DATA.DECODE_AT_SCALE False``, PySlowFast's order) and once
decoding straight to the drawn scale (``True``), with CPU milliseconds per clip split into
open/seek, decode, colour conversion (+ resize), crop/flip and pack, and the frames decoded per
clip. ``--loader`` adds the clips/s of a ``--workers`` loader at each shape.

``--clips-per-decode K`` adds the cost per clip when up to ``K`` clips (at most the shape's batch
factor) are cut from each decode (``DATA.CLIPS_PER_DECODE``).

From those costs and the clips the schedule trains at each shape, the **loader-bound speed-up**:
the baseline's total loader time (its epochs at the full shape) over multigrid's; next to it the
compute saving, which is the speed-up when the model, not the loader, is the bottleneck. Clip
counts come from the schedule's epochs (per video), so they do not depend on the dataset's size.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from sftools.loader_ceiling import loader_ceilings
from slowfast.config.defaults import assert_and_infer_cfg
from slowfast.datasets import transform
from slowfast.datasets.build import build_dataset
from slowfast.datasets.decoder import DECODE_STATS
from slowfast.datasets.loader import collate, item_seed, seed_worker
from slowfast.datasets.packing import pack_pathway_output
from slowfast.datasets.shape import ClipShape
from slowfast.multigrid import build_schedule, init_cfg
from slowfast.utils.logging import get_logger, log_json_stats, setup_logging
from slowfast.utils.parser import build_parser as base_parser
from slowfast.utils.parser import load_config, parse_args

logger = get_logger(__name__)

STAGES = ("open_s", "seek_s", "decode_s", "convert_s", "crop_s", "pack_s")
MODES = (("resize after", False), ("at scale", True))


@dataclass
class ShapeCost:
    """Mean cost of one clip at one shape, in one decoding mode."""

    cpu_ms: float
    stage_ms: dict[str, float]
    frames: float


def shape_label(shape: ClipShape) -> str:
    rate = f"{shape.sampling_rate}"
    if shape.max_sampling_rate:
        rate += f"-{shape.max_sampling_rate}"
    return f"{shape.num_frames}x{rate}, {shape.crop_size} [{shape.min_scale},{shape.max_scale}]"


def schedule_clips(schedule) -> OrderedDict[ClipShape, float]:
    """Clips per training video the schedule trains at each shape (epochs x batch share)."""
    clips: OrderedDict[ClipShape, float] = OrderedDict()
    for phase in schedule.phases:
        sizes = [b for b, _ in phase.short_cycle]
        for size, shape in zip(sizes, phase.clip_shapes()):
            clips[shape] = clips.get(shape, 0.0) + phase.num_epochs * size / sum(sizes)
    return clips


def measure(dataset, shape: ClipShape, clips: int, seed: int) -> dict[bool, ShapeCost]:
    """Load ``clips`` clips of ``shape`` (videos in turn) in both decoding modes, alternating
    which goes first clip by clip (so that neither gets the warmer caches), and time the stages.
    Returns {DATA.DECODE_AT_SCALE: cost}."""
    cfg = dataset.cfg
    cfg.defrost()
    totals = {m: dict.fromkeys(STAGES, 0.0) for _, m in MODES}
    cpu = {m: 0.0 for _, m in MODES}
    frames = {m: 0.0 for _, m in MODES}
    for k in range(clips):
        order = [m for _, m in MODES]
        for at_scale in order if k % 2 == 0 else order[::-1]:
            dataset.options = dataclasses.replace(dataset.options, decode_at_scale=at_scale)
            rng = random.Random(item_seed(seed, 0, 0, k, 0))
            before = {s: DECODE_STATS[s] for s in (*STAGES[:4], "frames")}
            start_cpu = time.process_time()
            clip_frames, _ = dataset.read_random_clip(k % dataset.num_videos, shape, rng)
            t0 = time.perf_counter()
            clip_frames = transform.train_spatial(
                clip_frames,
                shape.min_scale,
                shape.max_scale,
                shape.crop_size,
                cfg.DATA.RANDOM_FLIP,
                rng,
                inverse_uniform=cfg.DATA.INV_UNIFORM_SAMPLE,
            )
            t1 = time.perf_counter()
            clip = transform.to_normalized_tensor(clip_frames, cfg.DATA.MEAN, cfg.DATA.STD)
            pack_pathway_output(cfg, clip)
            t2 = time.perf_counter()
            cpu[at_scale] += time.process_time() - start_cpu
            for s in STAGES[:4]:
                totals[at_scale][s] += DECODE_STATS[s] - before[s]
            totals[at_scale]["crop_s"] += t1 - t0
            totals[at_scale]["pack_s"] += t2 - t1
            frames[at_scale] += DECODE_STATS["frames"] - before["frames"]
    return {
        m: ShapeCost(
            1000 * cpu[m] / clips,
            {s.replace("_s", "_ms"): 1000 * v / clips for s, v in totals[m].items()},
            frames[m] / clips,
        )
        for _, m in MODES
    }


def measure_amortised(dataset, shape: ClipShape, clips: int, k: int, seed: int) -> ShapeCost:
    """CPU ms per clip (everything: decode to pack) when ``k`` clips are cut from each decode
    (``DATA.CLIPS_PER_DECODE``; the dataset's batched fetch), decoding at scale."""
    dataset.options = dataclasses.replace(dataset.options, decode_at_scale=True)
    frames_before = DECODE_STATS["frames"]
    groups = max(clips // k, 1)
    start_cpu = time.process_time()
    for g in range(groups):
        video = g % dataset.num_videos
        dataset.__getitems__([(video, shape, item_seed(seed, 0, 0, g, j)) for j in range(k)])
    cpu = time.process_time() - start_cpu
    n = groups * k
    return ShapeCost(1000 * cpu / n, {}, (DECODE_STATS["frames"] - frames_before) / n)


def batch_factors(schedule) -> dict[ClipShape, int]:
    """The largest batch of each shape over the schedule's base batch (how many clips a decode
    may serve with ``DATA.CLIPS_PER_DECODE``)."""
    out: dict[ClipShape, int] = {}
    for phase in schedule.phases:
        for (batch, _), shape in zip(phase.short_cycle, phase.clip_shapes()):
            out[shape] = max(out.get(shape, 1), batch // max(schedule.default_batch_size, 1))
    return out


def loader_clips_per_s(dataset, shape: ClipShape, workers: int, batch: int, batches: int) -> float:
    """Clips/s of a ``workers`` loader asked for ``batches`` batches of ``shape`` (after one)."""
    keys = [
        [(i % dataset.num_videos, shape, item_seed(0, 0, 0, b, i)) for i in range(batch)]
        for b in range(batches + 1)
    ]
    loader = DataLoader(
        dataset,
        batch_sampler=keys,
        num_workers=workers,
        collate_fn=collate,
        worker_init_fn=seed_worker,
    )
    it = iter(loader)
    next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batch * batches / (time.perf_counter() - start)


def print_ceilings(
    per_video, full: ClipShape, baseline_epochs: float, cost: ShapeCost, encoded: bool
) -> dict:
    """Print what the schedule's clip counts allow a loader-bound run, per kind of cost, and the
    mix of this data's full clip (its open+seek and decode shares, at scale). Video decoding
    costs per frame at the file's resolution; JPEG frames decode at reduced scale where the
    shape allows, so for frame folders decoding is counted per pixel."""
    ceil = loader_ceilings(per_video, full, baseline_epochs)
    split = cost.stage_ms
    total = max(sum(split.values()), cost.cpu_ms, 1e-9)
    clip_share = (split["open_ms"] + split["seek_ms"]) / total
    frame_share = split["decode_ms"] / total if encoded else 0.0
    mixed = ceil.mixed(clip_share, frame_share)
    limit = ceil.max_frame_share(clip_share, 3.0)
    print(
        f"ceilings set by the schedule: {ceil.clips:.2f}x for a cost per clip, "
        f"{ceil.frames:.2f}x per frame (decoding at the file's resolution), {ceil.pixels:.2f}x "
        f"per pixel at the crop; this data's full clip: {100 * clip_share:.0f}% open+seek, "
        f"{100 * frame_share:.0f}% per-frame decode, the rest per pixel -> {mixed:.2f}x by this "
        "model"
    )
    print(
        "a 3x loader-bound speed-up (one decode per clip) needs per-frame decoding to be at most "
        + (
            f"{100 * limit:.0f}% of a full clip's cost"
            if limit is not None
            else "0%: unreachable, the per-clip cost alone rules it out"
        )
        + f" (with this data's {100 * clip_share:.0f}% open+seek)"
    )
    return {
        "ceiling_clips": ceil.clips,
        "ceiling_frames": ceil.frames,
        "ceiling_pixels": ceil.pixels,
        "ceiling_mixed": mixed,
        "full_clip_shares": {"open_seek": clip_share, "decode": frame_share},
        "max_decode_share_for_3x": limit,
    }


def build_parser() -> argparse.ArgumentParser:
    """The run_net-style parser (--cfg, KEY VALUE overrides) plus this benchmark's options."""
    parser = base_parser("Loader cost at every shape of a multigrid schedule.")
    parser.add_argument("--multigrid", action="store_true", help="(selects this benchmark)")
    parser.add_argument("--clips", type=int, default=16, help="clips per shape and mode")
    parser.add_argument(
        "--clips-per-decode",
        type=int,
        default=4,
        help="most clips per decode for the amortised column (1: leave it out)",
    )
    parser.add_argument("--loader", action="store_true", help="also loader clips/s per shape")
    parser.add_argument("--workers", type=int, default=2, help="loader workers for --loader")
    parser.add_argument("--batches", type=int, default=4, help="timed batches for --loader")
    parser.add_argument("--batch", type=int, default=8, help="clips per batch for --loader")
    return parser


def main(argv: Sequence[str]) -> int:
    """Run the per-shape loader benchmark (``argv`` may hold the subcommand ``data``)."""
    argv = [a for a in argv if a != "data"]
    setup_logging()
    args = parse_args(argv, build_parser())
    cfg = assert_and_infer_cfg(load_config(args))
    torch.set_num_threads(1)  # as in loader workers
    schedule = build_schedule(init_cfg(cfg.clone()))
    dataset = build_dataset(cfg.TRAIN.DATASET, cfg.clone(), "train")
    dataset.decode_threads = 1  # as in a loader worker on a machine with as many workers as cores
    full = dataset.train_shape()
    per_video = schedule_clips(schedule)
    shapes = [full] + [s for s in per_video if s != full]

    costs: dict[tuple[ClipShape, bool], ShapeCost] = {}
    rates: dict[ClipShape, float] = {}
    amortised: dict[ClipShape, tuple[int, ShapeCost]] = {}
    factors = batch_factors(schedule)
    for shape in shapes:
        for at_scale, cost in measure(dataset, shape, args.clips, cfg.RNG_SEED).items():
            costs[(shape, at_scale)] = cost
        if args.clips_per_decode > 1:
            k = min(args.clips_per_decode, factors.get(shape, 1))
            amortised[shape] = (
                k,
                measure_amortised(dataset, shape, args.clips, k, cfg.RNG_SEED)
                if k > 1
                else costs[(shape, True)],
            )
        if args.loader:
            rates[shape] = loader_clips_per_s(
                dataset, shape, args.workers, args.batch, args.batches
            )

    print(
        f"loader cost per shape: {cfg.TRAIN.DATASET}, {dataset.num_videos} videos, "
        f"{args.clips} clips per shape and mode, CPU ms per clip (1 process, 1 decoder thread)"
    )
    head = f"{'shape (frames x rate, crop [jitter])':<34}{'clips/video':>12}"
    for name, _ in MODES:
        head += f"{name + ' ms':>17}{'frames':>8}"
    head += f"{'open+seek':>10}{'decode':>8}{'convert':>8}{'crop':>6}{'pack':>6}"
    if amortised:
        head += f"{'k':>3}{'amortised ms':>14}{'frames':>8}"
    print(head + (f"{'clips/s':>9}" if args.loader else ""))
    records = []
    for shape in shapes:
        count = schedule.baseline_max_epoch if shape == full else 0.0
        mg_count = per_video.get(shape, 0.0)
        row = f"{shape_label(shape):<34}{mg_count:>12.2f}"
        for _, at_scale in MODES:
            c = costs[(shape, at_scale)]
            row += f"{c.cpu_ms:>17.1f}{c.frames:>8.1f}"
        after = costs[(shape, True)].stage_ms
        row += (
            f"{after['open_ms'] + after['seek_ms']:>10.1f}{after['decode_ms']:>8.1f}"
            f"{after['convert_ms']:>8.1f}{after['crop_ms']:>6.1f}{after['pack_ms']:>6.1f}"
        )
        if amortised:
            k, c = amortised[shape]
            row += f"{k:>3}{c.cpu_ms:>14.1f}{c.frames:>8.1f}"
        if args.loader:
            row += f"{rates[shape]:>9.1f}"
        print(row)
        records.append(
            {
                "shape": shape_label(shape),
                "baseline_clips_per_video": count,
                "multigrid_clips_per_video": mg_count,
                **{
                    f"{'at_scale' if m else 'resize_after'}_cpu_ms": costs[(shape, m)].cpu_ms
                    for _, m in MODES
                },
                **{
                    f"{'at_scale' if m else 'resize_after'}_frames": costs[(shape, m)].frames
                    for _, m in MODES
                },
                **{f"at_scale_{k}": v for k, v in after.items()},
                **({"loader_clips_per_s": rates[shape]} if args.loader else {}),
                **(
                    {
                        "clips_per_decode": amortised[shape][0],
                        "amortised_cpu_ms": amortised[shape][1].cpu_ms,
                    }
                    if amortised
                    else {}
                ),
            }
        )
    stats = {"compute_saving": schedule.compute_saving}
    for name, at_scale in MODES:
        base = schedule.baseline_max_epoch * costs[(full, at_scale)].cpu_ms
        mg = sum(n * costs[(s, at_scale)].cpu_ms for s, n in per_video.items())
        stats[f"{'at_scale' if at_scale else 'resize_after'}_loader_speedup"] = base / mg
        print(
            f"loader-bound multigrid speed-up ({name}): {base / mg:.2f}x "
            f"(baseline {schedule.baseline_max_epoch:g} epochs at {full.key}: {base:.0f} ms "
            f"per video; multigrid {sum(per_video.values()):.1f} clips per video: {mg:.0f} ms)"
        )
    if amortised:
        base = schedule.baseline_max_epoch * costs[(full, True)].cpu_ms
        mg = sum(n * amortised[s][1].cpu_ms for s, n in per_video.items())
        stats["amortised_loader_speedup"] = base / mg
        print(
            f"loader-bound multigrid speed-up (at scale, up to {args.clips_per_decode} clips per "
            f"decode): {base / mg:.2f}x (multigrid {mg:.0f} ms per video)"
        )
    encoded = dataset.records[0].frames is None  # a video file, not a folder of JPEG frames
    stats.update(
        print_ceilings(per_video, full, schedule.baseline_max_epoch, costs[(full, True)], encoded)
    )
    coarsest = min(per_video, key=lambda s: s.num_frames * s.crop_size**2)
    ratio = costs[(coarsest, True)].cpu_ms / costs[(full, True)].cpu_ms
    stats["coarsest_over_full"] = ratio
    line = (
        f"compute-bound speed-up (compute saving): {schedule.compute_saving:.2f}x; "
        f"coarsest shape {coarsest.key} costs {ratio:.2f} of a full clip (at scale)"
    )
    if amortised:
        amortised_ratio = amortised[coarsest][1].cpu_ms / costs[(full, True)].cpu_ms
        stats["coarsest_amortised_over_full"] = amortised_ratio
        line += f", {amortised_ratio:.2f} amortised"
    print(line)
    for r in records:
        log_json_stats({"_type": "data_shape", **r}, logger)
    log_json_stats({"_type": "data_multigrid", **stats}, logger)
    return 0
