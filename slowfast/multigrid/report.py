"""Views of a multigrid schedule for a dataset size and as files: the report with iteration
counts, the whole-epoch vs iteration-phase comparison, JSON and a figure.

Used by ``tools/multigrid_schedule.py`` and the demo. The figure follows the paper's picture of
the grid schedule: the long cycle as a staircase of clip-size boxes with the short-cycle
sub-shapes inside, with the batch size, learning rate and cumulative compute below.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fvcore.common.config import CfgNode

from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.multigrid.builder import build_schedule
from slowfast.multigrid.plan import IterationPlan
from slowfast.multigrid.schedule import Schedule, describe

# Training videos of Kinetics-400, the default for iterations per epoch.
KINETICS400_TRAIN_VIDEOS = 240436


def format_report(schedule: Schedule, num_videos: int | None = None) -> str:
    """The summary, then the table; with ``num_videos``, iteration counts and each phase's
    global iteration range for that many training videos."""
    if not num_videos:
        return describe(schedule)
    plan = IterationPlan(schedule, num_videos)
    ranges = [(span.start_iter, span.end_iter) for span in plan.spans]
    return describe(schedule, num_videos, plan.num_iters, ranges)


def format_unit_comparison(cfg: CfgNode, num_videos: int) -> str:
    """Where each phase starts with iteration phases and with PySlowFast's whole-epoch rounding
    (same config otherwise), in epochs, for ``num_videos`` training videos; the largest gap."""
    exact = build_schedule(cfg, unit="iterations")
    whole = build_schedule(cfg, unit="epochs")
    plan = IterationPlan(exact, num_videos)
    ends_whole = [end for _, _, end in whole.entries] or [whole.max_epoch]
    rows = [
        f"phase boundaries for {num_videos:,} training videos: iteration phases "
        "(MULTIGRID.PHASE_UNIT iterations) vs whole epochs (PySlowFast's rounding)",
        f"{'#':>2}  {'ends at iteration':>17}  {'= epoch':>9}  {'whole-epoch end':>15}  {'gap':>6}",
    ]
    gap = 0.0
    for k, (span, end_whole) in enumerate(zip(plan.spans, ends_whole)):
        at = plan.epoch_at(span.end_iter) if span.end_iter < plan.num_iters else exact.max_epoch
        gap = max(gap, abs(at - end_whole))
        rows.append(
            f"{k:>2}  {span.end_iter:>17,}  {at:>9.2f}  {end_whole:>15}  {at - end_whole:>+6.2f}"
        )
    empty = len(whole.entries) - len(whole.phases) if whole.entries else 0
    rows.append(
        f"largest gap: {gap:.2f} epochs; whole-epoch rounding leaves {empty} of "
        f"{max(len(whole.entries), 1)} phases empty, iteration phases none"
    )
    return "\n".join(rows)


def write_json(schedule: Schedule, path: str, num_videos: int | None = None) -> None:
    """Dump :meth:`Schedule.to_dict` (plus iterations per epoch for ``num_videos``) to ``path``."""
    data: dict[str, Any] = schedule.to_dict()
    if num_videos:
        data["num_videos"] = num_videos
        plan = IterationPlan(schedule, num_videos)
        data["num_iterations"] = plan.num_iters
        for row, p, span in zip(data["phases"], schedule.phases, plan.spans):
            row["iterations_per_epoch"] = num_videos / p.mean_batch_size
            row["start_iter"], row["end_iter"] = span.start_iter, span.end_iter
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def plot_schedule(schedule: Schedule, path: str) -> None:
    """Save a figure of the schedule over the epochs to ``path`` (PNG, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        4, 1, figsize=(12, 10), sharex=True, gridspec_kw={"height_ratios": [3, 1.4, 1.4, 1.4]}
    )
    colours = plt.get_cmap("viridis")
    _draw_shapes(axes[0], schedule, colours)
    _draw_batches(axes[1], schedule, colours)
    _draw_lr(axes[2], schedule)
    _draw_compute(axes[3], schedule)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _draw_shapes(ax, s: Schedule, colours) -> None:
    """The long cycle as a staircase of boxes of height T x S^2, short-cycle crops hatched."""
    from matplotlib.patches import Rectangle

    default_voxels = s.default_num_frames * s.default_crop_size**2
    n_stages = max(p.cycle_stage for p in s.phases) + 1
    for p in s.phases:
        colour = colours(0.15 + 0.7 * max(p.cycle_stage, 0) / max(n_stages - 1, 1))
        height = p.num_frames * p.crop_size**2 / default_voxels
        box = Rectangle((p.start, 0), p.num_epochs, height, facecolor=colour, alpha=0.85)
        ax.add_patch(box)
        box.set_edgecolor("black")
        for _, crop in p.short_cycle[:-1]:
            sub = p.num_frames * crop**2 / default_voxels
            hatched = Rectangle((p.start, 0), p.num_epochs, sub, facecolor="white", alpha=0.35)
            hatched.set(hatch="//", edgecolor="black", linewidth=0.5)
            ax.add_patch(hatched)
        if p.num_epochs >= 0.025 * s.max_epoch:
            label = f"{p.num_frames}x{p.crop_size}²"
            x = p.start + p.num_epochs / 2
            ax.text(x, height + 0.02, label, ha="center", va="bottom", fontsize=7, rotation=90)
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=0.8)
    ax.set_ylim(0, 1.35)
    ax.set_ylabel("clip size T x S²\n(of the default)")
    cycles = "no multigrid" if s.mode == "off" else f"{s.mode} cycles"
    variant = ", single long cycle" if s.single_long_cycle else ""
    ax.set_title(
        f"Multigrid schedule ({cycles}{variant}, {s.lr_policy}): {s.max_epoch:g} epochs, "
        f"{len(s.phases)} phases, {s.compute_saving:.2f}x less compute than the "
        f"{s.baseline_max_epoch}-epoch baseline\nboxes: long-cycle shape; hatched: short-cycle "
        "crops",
        fontsize=10,
    )


def _edges(s: Schedule) -> list[float]:
    return [p.start for p in s.phases] + [s.max_epoch]


def _draw_batches(ax, s: Schedule, colours) -> None:
    """Global batch of the long-cycle shape and of each short-cycle crop."""
    ax.stairs([p.batch_size for p in s.phases], _edges(s), color="black", label="long-cycle shape")
    for j, (_, crop) in enumerate(s.phases[0].short_cycle[:-1]):
        # A phase without the short cycle (a clean fine-tuning phase) shows its own batch.
        batches = [
            p.short_cycle[j][0] if len(p.short_cycle) > 1 else p.batch_size for p in s.phases
        ]
        style = {"linestyle": ":", "color": colours(0.3 + 0.3 * j)}
        ax.stairs(batches, _edges(s), label=f"short cycle, crop {crop}", **style)
    ax.set_yscale("log", base=2)
    ax.set_ylabel("global batch")
    ax.legend(fontsize=7, loc="upper right")


def _draw_lr(ax, s: Schedule) -> None:
    xs = [s.max_epoch * i / 2000 for i in range(2000)]
    lrs = [s.lr_at(x) for x in xs]
    ax.plot(xs, lrs, color="black", linewidth=1)
    ax.set_yscale("log")
    ax.set_ylim(bottom=max(min(lr for lr in lrs if lr > 0), max(lrs) * 1e-4) / 1.5)
    ax.set_ylabel("learning rate\n(no warm-up)")


def _draw_compute(ax, s: Schedule) -> None:
    """Cumulative compute of the schedule against the baseline's straight line."""
    cumulative = [0.0]
    for p in s.phases:
        cumulative.append(cumulative[-1] + s.relative_compute(p))
    ax.plot(_edges(s), cumulative, color="black", marker=".", label="multigrid")
    baseline = {"color": "grey", "linestyle": "--", "label": "baseline"}
    ax.plot([0, s.baseline_max_epoch], [0, 1], **baseline)
    ax.set_ylabel("cumulative compute\n(of the baseline)")
    ax.set_xlabel("epoch")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_xlim(0, max(s.max_epoch, s.baseline_max_epoch))


def run_report(
    cfg_files: Sequence[str],
    opts: Sequence[str] = (),
    num_videos: int | None = KINETICS400_TRAIN_VIDEOS,
    json_path: str | None = None,
    png_path: str | None = None,
) -> str:
    """Load the config (files, then KEY VALUE overrides), build its schedule, write the optional
    JSON and PNG files and return the printed report. Raises ConfigError for config mistakes."""
    cfg = assert_and_infer_cfg(build_cfg(cfg_files, opts))
    schedule = build_schedule(cfg)
    if json_path:
        write_json(schedule, json_path, num_videos)
    if png_path:
        plot_schedule(schedule, png_path)
    report = format_report(schedule, num_videos)
    if num_videos and schedule.long_cycle:
        report += "\n\n" + format_unit_comparison(cfg, num_videos)
    return report
