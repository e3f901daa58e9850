"""Training curves from the ``json_stats`` lines of one or more runs' ``stdout.log``.

Reads the records whose ``_type`` is ``train_iter``, ``train_epoch`` and ``val_epoch`` (schema in
docs/TRAINING.md) and draws training loss and validation top-1 error (or mAP) against epoch
and against wall-clock hours, one line per run, labelled by the run directory's name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_MARKER = "json_stats: "
_TYPES = ("train_iter", "train_epoch", "val_epoch")


@dataclass
class RunLog:
    """The json_stats records of one run, by ``_type``."""

    name: str
    path: str
    records: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {t: [] for t in _TYPES}
    )
    bad_lines: int = 0  # json_stats lines that did not parse (e.g. cut off by a crash)


@dataclass
class Series:
    """One curve: x by epoch, x by hours (None where unknown), y."""

    epochs: list[float]
    hours: list[float | None]
    values: list[float]


def parse_json_stats(line: str) -> dict[str, Any] | None:
    """The dict of a ``... json_stats: {...}`` log line; None for other or malformed lines."""
    start = line.find(_MARKER)
    if start < 0:
        return None
    try:
        stats = json.loads(line[start + len(_MARKER) :])
    except ValueError:
        return None
    return stats if isinstance(stats, dict) else None


def read_run(output_dir: str, name: str | None = None) -> RunLog:
    """Parse ``output_dir/stdout.log``; raises FileNotFoundError naming it when it is missing."""
    path = os.path.join(output_dir, "stdout.log")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no training log: {path} does not exist")
    run = RunLog(name or os.path.basename(os.path.normpath(output_dir)), path)
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if _MARKER not in line:
                continue
            stats = parse_json_stats(line)
            if stats is None:
                run.bad_lines += 1
            elif stats.get("_type") in run.records:
                run.records[stats["_type"]].append(stats)
    return run


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _series(records: list[dict[str, Any]], key: str, per_iter: bool) -> Series:
    out = Series([], [], [])
    for stats in records:
        value, epoch = _number(stats.get(key)), _number(stats.get("epoch"))
        if value is None or epoch is None:
            continue
        if per_iter:
            it = _number(stats.get("iter"))
            n = _number(stats.get("iters", stats.get("epoch_iters")))
            if it is None or not n:
                continue
            epoch = epoch - 1 + it / n
        elapsed = _number(stats.get("elapsed_s"))
        out.epochs.append(epoch)
        out.hours.append(None if elapsed is None else elapsed / 3600.0)
        out.values.append(value)
    return out


def train_loss(run: RunLog) -> Series:
    """Loss per logged iteration, or per epoch when the run logged no iterations."""
    if run.records["train_iter"]:
        return _series(run.records["train_iter"], "loss", per_iter=True)
    return _series(run.records["train_epoch"], "loss", per_iter=False)


def val_metric(run: RunLog) -> tuple[str, Series]:
    """``("top1_err", ...)`` for single-label runs, ``("map", ...)`` for multi-label ones."""
    records = run.records["val_epoch"]
    key = "top1_err" if any("top1_err" in r for r in records) else "map"
    return key, _series(records, key, per_iter=False)


_LABELS = {"top1_err": "val top-1 error (%)", "map": "val mAP"}


def _draw(ax: Any, series: Series, by_time: bool, label: str) -> None:
    if by_time:
        points = [(h, v) for h, v in zip(series.hours, series.values) if h is not None]
    else:
        points = list(zip(series.epochs, series.values))
    if points:
        xs, ys = zip(*points)
        ax.plot(xs, ys, label=label, marker="o" if len(points) < 30 else None, markersize=3)


def plot_runs(output_dirs: Sequence[str], out_path: str) -> str:
    """Draw every run's curves on one figure, save it as PNG at ``out_path``; returns the path."""
    if not output_dirs:
        raise ValueError("plot_runs: give at least one run directory")
    runs = [read_run(d) for d in output_dirs]
    names = [r.name for r in runs]
    for run, d in zip(runs, output_dirs):
        if names.count(run.name) > 1:  # same basename twice: add the parent directory
            parent = os.path.basename(os.path.dirname(os.path.normpath(d)))
            run.name = f"{parent}/{run.name}"

    fig = Figure(figsize=(12, 8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    metric_keys = set()
    for run in runs:
        loss = train_loss(run)
        key, val = val_metric(run)
        if val.values:
            metric_keys.add(key)
        for row, by_time in ((0, False), (1, True)):
            _draw(axes[row][0], loss, by_time, run.name)
            _draw(axes[row][1], val, by_time, run.name)
    metric_label = " / ".join(_LABELS[k] for k in sorted(metric_keys)) or "validation metric"
    for row, xlabel in ((0, "epoch"), (1, "wall-clock hours")):
        for col, ylabel in ((0, "training loss"), (1, metric_label)):
            ax = axes[row][col]
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(True, alpha=0.3)
            if ax.get_lines():
                ax.legend(fontsize="small")
    fig.tight_layout()
    out_dir = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(out_dir, exist_ok=True)
    fig.savefig(out_path, format="png", dpi=100)
    return out_path
