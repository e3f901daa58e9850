"""Human-readable views of a multigrid schedule: a table, a summary, JSON and a figure.

Used by ``Schedule.__str__`` and by ``tools/multigrid_schedule.py``. The figure follows the
paper's picture of the grid schedule: the long cycle as a staircase of clip-size boxes with the
short-cycle sub-shapes inside, with the batch size, learning rate and cumulative compute below.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fvcore.common.config import CfgNode

from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.multigrid.builder import build_schedule
from slowfast.multigrid.phase import Phase, Schedule
from slowfast.multigrid.plan import IterationPlan

# Training videos of Kinetics-400, the default for iterations per epoch.
KINETICS400_TRAIN_VIDEOS = 240436

_KIND = {"long_cycle": "long cycle", "fine_tune": "fine-tune", "constant": "full shape"}


def _bn(phase: Phase) -> str:
    bn = phase.bn
    if bn.norm_type == "sub_batchnorm":
        return f"sub-BN /{bn.num_splits}"
    if bn.norm_type == "sync_batchnorm":
        return f"sync-BN x{bn.num_sync_devices}"
    return "BN"


def _lr(schedule: Schedule, phase: Phase) -> str:
    first, last = schedule.lr_at(phase.start), schedule.lr_at(phase.end - 1)
    return f"{first:.3g}" if first == last else f"{first:.3g} -> {last:.3g}"


def _epochs(value: float) -> str:
    """Whole epochs as integers, fractional ones with two decimals."""
    return f"{round(value)}" if abs(value - round(value)) < 1e-6 else f"{value:.2f}"


def format_table(schedule: Schedule, num_videos: int | None = None) -> str:
    """One row per phase. Iterations per epoch are absolute for ``num_videos`` training videos,
    else relative to the baseline's; "iters" and "compute" are shares of the baseline run's;
    with ``num_videos``, "at iters" is the phase's global iteration range."""
    plan = IterationPlan(schedule, num_videos) if num_videos else None
    width = 13 if schedule.unit == "iterations" else 9
    header = (
        f"{'#':>2}  {'epochs':>{width}}  {'kind':<10}  {'LR st':>5}  {'B x T x S':>15}  "
        f"{'LR':<19}  {'BN':<11}  {'short cycle B@S':<27}  {'it/epoch':>8}  "
        f"{'iters':>6}  {'compute':>7}"
    )
    if plan is not None:
        header += f"  {'at iters':>17}"
    rows = [header, "-" * len(header)]
    for k, p in enumerate(schedule.phases):
        shape = f"{p.batch_size} x {p.num_frames} x {p.crop_size}"
        short = " ".join(f"{b}@{s}" for b, s in p.short_cycle) if len(p.short_cycle) > 1 else "-"
        if num_videos:
            per_epoch = f"{num_videos / p.mean_batch_size:.0f}"
        else:
            per_epoch = f"{schedule.default_batch_size / p.mean_batch_size:.3f}x"
        span = f"{_epochs(p.start)}-{_epochs(p.end)}"
        row = (
            f"{p.index:>2}  {span:>{width}}  {_KIND[p.kind]:<10}  {p.lr_stage:>5}  "
            f"{shape:>15}  {_lr(schedule, p):<19}  {_bn(p):<11}  {short:<27}  {per_epoch:>8}  "
            f"{schedule.relative_iterations(p):>6.1%}  {schedule.relative_compute(p):>7.1%}"
        )
        if plan is not None:
            sp = plan.spans[k]
            row += f"  {f'{sp.start_iter:,}-{sp.end_iter:,}':>17}"
        rows.append(row)
    return "\n".join(rows)


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


def format_summary(schedule: Schedule, num_videos: int | None = None) -> str:
    """The totals against the baseline, the rewritten solver and the evaluation epochs."""
    s = schedule
    cycles = {"long+short": "long + short cycles", "long": "long cycle only"}
    cycles.update({"short": "short cycle only", "off": "no multigrid (baseline)"})
    variant = " (single long cycle)" if s.single_long_cycle else ""
    unit = "iteration phases" if s.unit == "iterations" else "whole-epoch phases"
    lines = [
        f"Multigrid schedule: {cycles[s.mode]}{variant}, {unit}, LR policy {s.lr_policy}, "
        f"EPOCH_FACTOR {s.epoch_factor:g}; default shape {s.default_batch_size} x "
        f"{s.default_num_frames} x {s.default_crop_size} (global batch x frames x crop)",
        f"{_epochs(s.max_epoch)} epochs in {len(s.phases)} phase"
        f"{'s' if len(s.phases) != 1 else ''} "
        f"(baseline: {s.baseline_max_epoch} epochs, SOLVER.STEPS {list(s.baseline_steps)})",
    ]
    iters = f"{s.iteration_ratio:.3f}x the baseline's"
    if num_videos:
        ours = IterationPlan(s, num_videos).num_iters
        theirs = s.baseline_max_epoch * num_videos // s.default_batch_size
        iters += f" ({ours:,} vs {theirs:,} for {num_videos:,} videos)"
    lines += [
        f"iterations: {iters}",
        f"compute: {s.compute_ratio:.3f}x the baseline's",
        f"theoretical saving: {s.compute_saving:.2f}x in compute, "
        f"{s.iteration_saving:.2f}x in iterations",
        f"SOLVER.STEPS {s.steps}",
        f"SOLVER.LRS {[float(f'{lr:.6g}') for lr in s.lrs]}",
        f"SOLVER.MAX_EPOCH {s.num_epochs}",
    ]
    if s.warmup_share is not None:
        lines.append(f"warm-up: the first {s.warmup_share:.1%} of the iterations")
    if s.eval_epochs is not None:
        epochs = [e + 1 for e in s.eval_epochs]
        lines.append(f"evaluate + checkpoint after epochs (1-based) {epochs}")
    return "\n".join(lines)


def format_report(schedule: Schedule, num_videos: int | None = None) -> str:
    """The summary, then the table."""
    return format_summary(schedule, num_videos) + "\n\n" + format_table(schedule, num_videos)


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
        batches = [p.short_cycle[j][0] if len(p.short_cycle) > 1 else p.batch_size
                   for p in s.phases]
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
