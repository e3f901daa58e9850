"""``tools/reproduce.py``: small-scale analogues of the paper's tables on the synthetic dataset.

Each table compares runs of the demo's SlowFast (configs/Synthetic/SLOWFAST_demo*.yaml) that
differ in one setting; a run shared by several tables is trained once. The measured training
wall-clock, speedup against the table's first row, clips seen, training compute and test top-1 /
top-5 go into a markdown file (projects/multigrid/RESULTS.md by default) with the command and the
machine they were measured on.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Sequence

import torch

from sftools.demo import (
    R18_LAYOUT,
    RUNS,
    SIZES,
    RunResult,
    demo_cfg,
    ensure_dataset,
    read_result,
    run_one,
)
from sftools.variants import Variant
from slowfast.engine.tester import test
from slowfast.utils.atomic import atomic_write_text
from slowfast.utils.logging import setup_logging

BASE, MULTIGRID = RUNS[0][1], RUNS[1][1]
COSINE = ("SOLVER.LR_POLICY", "cosine", "SOLVER.COSINE_END_LR", "0.0")


def _run(
    key: str, label: str, config: str, opts: tuple[str, ...] = (), ref: str = "base"
) -> Variant:
    """One training run: a demo config plus overrides, measured against the run ``ref``."""
    return Variant(key, label, config, opts, ref)


RUN_LIST = (
    _run("base", "baseline (R50 layout)", BASE),
    _run("mg", "multigrid, long + short cycles (R50 layout)", MULTIGRID),
    _run("base18", "baseline (R18 layout)", BASE, R18_LAYOUT, ref="base18"),
    _run("mg18", "multigrid (R18 layout)", MULTIGRID, R18_LAYOUT, ref="base18"),
    _run(
        "single", "multigrid, single long cycle", MULTIGRID, ("MULTIGRID.SINGLE_LONG_CYCLE", "True")
    ),
    _run("base_cos", "baseline, cosine LR", BASE, COSINE, ref="base_cos"),
    _run("mg_cos", "multigrid, cosine LR", MULTIGRID, COSINE, ref="base_cos"),
    _run("long", "multigrid, long cycle only", MULTIGRID, ("MULTIGRID.SHORT_CYCLE", "False")),
    _run("short", "multigrid, short cycle only", MULTIGRID, ("MULTIGRID.LONG_CYCLE", "False")),
)
RUNS_BY_KEY = {r.key: r for r in RUN_LIST}
TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Baseline vs multigrid at two depths (paper Table 1 / R50 vs R101)",
        ("base", "mg", "base18", "mg18"),
    ),
    ("Single vs multiple long cycles (paper supplement)", ("base", "mg", "single")),
    ("Stepwise vs cosine learning rate (paper supplement)", ("base", "mg", "base_cos", "mg_cos")),
    ("Long cycle only, short cycle only, both (paper ablation)", ("base", "long", "short", "mg")),
)


def _row(run: Variant, r: RunResult, ref: RunResult) -> str:
    speed = ref.train_seconds / max(r.train_seconds, 1e-9)
    return (
        f"| {run.label} | {r.train_seconds:.0f} s | {speed:.2f}x | "
        f"{RUNS_BY_KEY[run.ref].label} | {r.clips_seen} | "
        f"{r.gflop:.0f} ({r.gflop / max(ref.gflop, 1e-9):.2f}x) | {r.top1:.1f} | {r.top5:.1f} |"
    )


def format_results(
    results: dict[str, RunResult],
    crops: dict[str, RunResult],
    command: str,
    size_name: str,
    seconds: float,
    reused: Sequence[str] = (),
) -> str:
    """The markdown page: one table per comparison, then the testing-crop table."""
    head = (
        "| run | training wall-clock | speedup | against | clips seen | training GFLOP (ratio) | "
        "test top-1 % | test top-5 % |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [
        "# Small-scale reproduction: measured results",
        "",
        "Written by `tools/reproduce.py`; every number below was measured in one run of it.",
        "",
        f"- Command: `{command}`",
        f"- Size: `{size_name}` ({SIZES[size_name].train} training videos, synthetic Kinetics "
        "format)",
        f"- Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"Python {platform.python_version()}; total {seconds / 60:.1f} minutes"
        + (
            f" ({len(reused)} of {len(results)} runs read from the logs of an earlier run: "
            f"{', '.join(reused)})"
            if reused
            else ""
        ),
        "- Speedups and compute ratios are against the baseline named in each row (the same "
        "network and LR policy), measured in the same process one after the other; compute is "
        "fvcore GFLOPs summed over the clips trained.",
        "",
    ]
    for title, keys in TABLES:
        present = [k for k in keys if k in results and RUNS_BY_KEY[k].ref in results]
        if not present:
            continue
        lines += [f"## {title}", "", head]
        lines += [_row(RUNS_BY_KEY[k], results[k], results[RUNS_BY_KEY[k].ref]) for k in present]
        lines.append("")
    if crops:
        lines += [
            "## Testing views (the multigrid model)",
            "",
            "| test setting | test top-1 % | test top-5 % |",
            "|---|---|---|",
        ]
        lines += [f"| {name} | {r.top1:.1f} | {r.top5:.1f} |" for name, r in crops.items()]
        lines.append("")
    return "\n".join(lines)


NOTES_MARKER = "<!-- notes below are kept when tools/reproduce.py rewrites this file -->"
SCALE_MARKER = "<!-- scale study: written by tools/reproduce.py --scale -->"


def _read(path: str) -> str:
    if not os.path.isfile(path):
        return ""
    with open(path, encoding="utf-8") as f:
        return f.read()


def kept_notes(path: str) -> str:
    """The hand-written part of an existing results file: from :data:`NOTES_MARKER` on."""
    old = _read(path)
    at = old.find(NOTES_MARKER)
    return "" if at < 0 else "\n" + old[at:]


def kept_scale_study(path: str) -> str:
    """The scale-study section of an existing results file (between its marker and the notes)."""
    old = _read(path)
    at = old.find(SCALE_MARKER)
    if at < 0:
        return ""
    end = old.find(NOTES_MARKER, at)
    return "\n" + old[at : end if end >= 0 else len(old)].rstrip() + "\n"


def _test_only(cfg, name: str, extra: Sequence[str]) -> RunResult:
    """Test an already trained run's checkpoint with other testing options."""
    cfg = cfg.clone()
    cfg.merge_from_list(["TRAIN.ENABLE", "False", *extra])
    setup_logging(os.path.join(cfg.OUTPUT_DIR, "test_views"))  # not into a training run's log
    out = test(cfg)
    return RunResult(name, top1=100.0 - out["top1_err"], top5=100.0 - out["top5_err"])


def run_reproduction(
    out_md: str,
    out_dir: str,
    data_dir: str,
    size_name: str,
    only: Sequence[str] = (),
    extra_opts: Sequence[str] = (),
    reuse: bool = False,
) -> str:
    """Train every needed run, test, and write the markdown page; returns its path.

    With ``reuse``, a run whose folder under ``out_dir`` already holds a finished training and
    test (an interrupted reproduction, or one rerun to add runs) is read from its log instead of
    being trained again. A run's reference baseline is always included.
    """
    size = SIZES[size_name]
    out_dir, data_dir = os.path.abspath(out_dir), os.path.abspath(data_dir)
    t0 = time.perf_counter()
    ensure_dataset(data_dir, size)
    wanted = set(only) if only else {k for _, keys in TABLES for k in keys}
    wanted |= {RUNS_BY_KEY[k].ref for k in wanted}
    results: dict[str, RunResult] = {}
    reused: list[str] = []
    cfgs = {}
    for run in RUN_LIST:
        if run.key not in wanted:
            continue
        cfg = demo_cfg(
            run.base, data_dir, os.path.join(out_dir, run.key), size, [*run.opts, *extra_opts]
        )
        cfgs[run.key] = cfg
        done = read_result(run.label, cfg) if reuse else None
        if done is not None:
            print(
                f"[reproduce] {run.key}: finished run found in {cfg.OUTPUT_DIR}, not retrained",
                flush=True,
            )
            reused.append(run.key)
        results[run.key] = done or run_one(run.label, cfg)
    crops: dict[str, RunResult] = {}
    if "mg" in cfgs:
        crop = cfgs["mg"].DATA.TEST_CROP_SIZE
        big = int(round(crop * 256 / 224))  # the paper's 256^2 vs 224^2 testing
        for name, opts in (
            (
                f"1 view x centre crop {crop}^2",
                ("TEST.NUM_ENSEMBLE_VIEWS", "1", "TEST.NUM_SPATIAL_CROPS", "1"),
            ),
            (
                f"1 view x 3 crops {crop}^2",
                ("TEST.NUM_ENSEMBLE_VIEWS", "1", "TEST.NUM_SPATIAL_CROPS", "3"),
            ),
            (
                f"3 views x 3 crops {crop}^2",
                ("TEST.NUM_ENSEMBLE_VIEWS", "3", "TEST.NUM_SPATIAL_CROPS", "3"),
            ),
            (
                f"1 view x 3 crops {big}^2 (larger than training)",
                (
                    "TEST.NUM_ENSEMBLE_VIEWS",
                    "1",
                    "TEST.NUM_SPATIAL_CROPS",
                    "3",
                    "DATA.TEST_CROP_SIZE",
                    str(big),
                ),
            ),
        ):
            crops[name] = _test_only(cfgs["mg"], name, opts)
    command = (
        "python tools/reproduce.py " + " ".join(sys.argv[1:])
        if sys.argv[1:]
        else "python tools/reproduce.py"
    )
    text = format_results(results, crops, command, size_name, time.perf_counter() - t0, reused)
    text += kept_scale_study(out_md) + kept_notes(out_md)
    atomic_write_text(out_md, text)  # the notes kept from the old file are in it
    print(text, flush=True)
    print(f"[reproduce] results written to {out_md}", flush=True)
    return out_md
