"""``tools/reproduce.py --scale``: the multigrid gap and speedup as the training set grows.

At each training-set size the demo's baseline and its multigrid twin (with PySlowFast's
whole-epoch phases and with this project's iteration phases) train the same epoch budget. Every
size's measurements are kept in a record beside the results file (``scale_study.json``), so a
later call can add a size, or measure one again, without retraining the others; the section and
figure are drawn from the whole record, each row naming the command that measured it.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from sftools.demo import SIZES, RunResult, demo_cfg, ensure_dataset, read_result, run_one
from sftools.reproduce import BASE, MULTIGRID, NOTES_MARKER, SCALE_MARKER, _read, kept_notes
from slowfast.multigrid import build_schedule, init_cfg
from slowfast.utils.atomic import atomic_write_text

SCALE_SIZES = (150, 300, 600, 1200, 2400)
# PySlowFast's schedule rules, to set against this project's defaults at every size.
PYSLOWFAST_RULES = (
    "MULTIGRID.PHASE_UNIT",
    "epochs",
    "MULTIGRID.FINE_TUNE_SHORT_CYCLE",
    "True",
    "MULTIGRID.WARMUP_UNIT",
    "epochs",
)
SCALE_RUNS = (
    ("base", "baseline", BASE, ()),
    ("mg_epochs", "multigrid, whole-epoch phases (PySlowFast)", MULTIGRID, PYSLOWFAST_RULES),
    ("mg_iters", "multigrid, iteration phases (default)", MULTIGRID, ()),
)
RECORD = "scale_study.json"  # beside the results file


@dataclasses.dataclass
class ScaleRow:
    """One training-set size: its three runs, the whole-epoch schedule's empty phases, and the
    command (and day) that measured them; ``note`` says where a row came from if not from a run
    of this code (e.g. transcribed from an earlier table)."""

    runs: dict[str, RunResult]
    empty_phases: int
    command: str
    date: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "runs": {key: r.to_dict() for key, r in self.runs.items()},
            "empty_phases": self.empty_phases,
            "command": self.command,
            "date": self.date,
        }
        return {**out, "note": self.note} if self.note else out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScaleRow:
        labels = {key: label for key, label, _, _ in SCALE_RUNS}
        runs = {key: RunResult.from_dict(labels[key], r) for key, r in d["runs"].items()}
        return cls(
            runs, int(d["empty_phases"]), str(d["command"]), str(d["date"]), d.get("note", "")
        )


def record_path(out_md: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(out_md)), RECORD)


def load_record(out_md: str) -> dict[int, ScaleRow]:
    """The rows measured so far (none when the record is absent)."""
    path = record_path(out_md)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return {int(n): ScaleRow.from_dict(row) for n, row in data["rows"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        kind = type(e).__name__
        raise SystemExit(f"error: {path} is not a scale-study record ({kind}: {e})") from e


def save_record(out_md: str, rows: dict[int, ScaleRow]) -> None:
    data = {"rows": {str(n): rows[n].to_dict() for n in sorted(rows)}}
    atomic_write_text(record_path(out_md), json.dumps(data, indent=1) + "\n")


def _empty_phases(cfg) -> int:
    schedule = build_schedule(init_cfg(cfg))
    return len(schedule.entries) - len(schedule.phases) if schedule.entries else 0


def _speedup(base: RunResult, other: RunResult) -> float:
    return base.train_seconds / max(other.train_seconds, 1e-9)


def format_scale_study(rows: dict[int, ScaleRow], figure: str) -> str:
    """The scale-study section: one row per training-set size, then which command measured
    which rows."""
    lines = [
        SCALE_MARKER,
        "## Scale study: from what dataset size does multigrid pay?",
        "",
        "- The `make demo` network and schedule rules at every size; only the number of training "
        "videos changes (validation and test sets: 150 videos each, the same classes). Every run "
        "trains the same epoch budget (12 baseline epochs; multigrid 1.5x, its rule).",
        "- gap = multigrid test top-1 minus the baseline's (points); speedup = baseline training "
        "wall-clock over multigrid's, measured one after the other in one process.",
        "",
        "| training videos | baseline top-1 % | baseline time | whole-epoch phases: empty | "
        "top-1 % | gap | speedup | iteration phases: top-1 % | gap | speedup |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, row in sorted(rows.items()):
        base = row.runs["base"]
        cells = [str(n), f"{base.top1:.1f}", f"{base.train_seconds:.0f} s", str(row.empty_phases)]
        for key in ("mg_epochs", "mg_iters"):
            m = row.runs[key]
            cells += [f"{m.top1:.1f}", f"{m.top1 - base.top1:+.1f}", f"{_speedup(base, m):.2f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Measured by:"]
    by_command: dict[tuple[str, str], list[int]] = {}
    for n, row in sorted(rows.items()):
        by_command.setdefault((row.command, row.date), []).append(n)
    for (command, date), sizes in by_command.items():
        lines.append(f"- {', '.join(map(str, sizes))} videos: `{command}` ({date})")
    lines += ["", f"![top-1 gap and speedup against training-set size]({figure})", ""]
    return "\n".join(lines)


def plot_scale_study(rows: dict[int, ScaleRow], path: str) -> None:
    """Top-1 gap and speedup of both multigrid variants against the training-set size."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6))
    FigureCanvasAgg(fig)
    gap_ax, speed_ax = fig.add_subplot(121), fig.add_subplot(122)
    sizes = sorted(rows)
    for key, label, _, _ in SCALE_RUNS[1:]:
        runs = [rows[n].runs for n in sizes]
        gap_ax.plot(sizes, [r[key].top1 - r["base"].top1 for r in runs], marker="o", label=label)
        speed_ax.plot(sizes, [_speedup(r["base"], r[key]) for r in runs], marker="o", label=label)
    gap_ax.axhline(0, color="grey", linewidth=0.8)
    for ax, ylabel in (
        (gap_ax, "test top-1 gap to the baseline (points)"),
        (speed_ax, "training speedup over the baseline"),
    ):
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
        ax.set_xlabel("training videos")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    gap_ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run_scale_study(
    out_md: str,
    out_dir: str,
    data_root: str,
    sizes: Sequence[int] = SCALE_SIZES,
    extra_opts: Sequence[str] = (),
    reuse: bool = False,
) -> str:
    """Train the baseline and both multigrid variants at each of ``sizes`` (``reuse``: read
    finished runs from their logs), merge them into the record beside ``out_md`` (a size measured
    again replaces its row), then write the section, from every recorded size, and its figure."""
    out_dir, data_root = os.path.abspath(out_dir), os.path.abspath(data_root)
    rows = load_record(out_md)
    # With --reuse the runs are read from what the same command trained: record that command.
    command = "python tools/reproduce.py " + " ".join(a for a in sys.argv[1:] if a != "--reuse")
    today = datetime.date.today().isoformat()
    for n in sizes:
        size = dataclasses.replace(SIZES["default"], train=n)
        data_dir = os.path.join(data_root, f"train{n}")
        ensure_dataset(data_dir, size)
        runs: dict[str, RunResult] = {}
        empty = 0
        for key, label, config, opts in SCALE_RUNS:
            cfg = demo_cfg(
                config,
                data_dir,
                os.path.join(out_dir, f"train{n}", key),
                size,
                [*opts, *extra_opts],
            )
            if key == "mg_epochs":
                empty = _empty_phases(cfg)
            done = read_result(label, cfg) if reuse else None
            runs[key] = done or run_one(f"{label}, {n} videos", cfg)
        rows[n] = ScaleRow(runs, empty, command, today)
        save_record(out_md, rows)  # a long study keeps each size as soon as it is measured
    figure = os.path.join(os.path.dirname(os.path.abspath(out_md)), "scale_study.png")
    plot_scale_study(rows, figure)
    section = format_scale_study(rows, os.path.basename(figure))
    old = _read(out_md)
    at, notes_at = old.find(SCALE_MARKER), old.find(NOTES_MARKER)
    head = old[:at] if at >= 0 else (old[:notes_at] if notes_at >= 0 else old)
    atomic_write_text(out_md, head.rstrip() + "\n\n" + section + kept_notes(out_md))
    print(section, flush=True)
    print(f"[reproduce] scale study written to {out_md} and {figure}", flush=True)
    return out_md
