"""``tools/benchmark.py compare``: our training step against PySlowFast's, side by side.

Usage::

    python tools/benchmark.py compare --cfg FILE --pyslowfast /path/to/SlowFast \\
        [--batch B --frames T --crop S --rounds R --steps N --warmup W --threads K] [KEY VALUE ...]

PySlowFast is a checkout of facebookresearch/SlowFast (its Python sources; nothing is built or
installed). Its optional dependencies that its video models never use (pytorchvideo, detectron2,
...) are replaced by empty stand-ins when they are not installed.

Each variant runs in a fresh process (:mod:`sftools.bench_worker`), and the variants take
turns within every round in a rotating order, so drifting load on a shared machine falls on all
of them alike. Variants: ``pyslowfast`` (its model builder; float32 and NCTHW, what its trainer
runs on a CPU), ``ours`` (the same config), ``ours, channels-last`` (``MODEL.CHANNELS_LAST True``),
``ours, mixed precision`` (``TRAIN.MIXED_PRECISION True``: bfloat16 autocast) and both. The first
run of ours saves its weights and every PySlowFast run loads them strictly, which checks that the
two models have the same parameters. Speedup = PySlowFast's median step time / the variant's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import slowfast
from sftools.variants import Variant
from slowfast.config.errors import ConfigError

# The folder holding the ``slowfast`` package this process imports: our variants' workers import
# the same one.
OURS_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(slowfast.__file__)))
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_worker.py")

CHANNELS_LAST = ("MODEL.CHANNELS_LAST", "True")
MIXED = ("TRAIN.MIXED_PRECISION", "True")


# Each variant's ``base`` is the implementation it times; all are measured against PySlowFast.
VARIANTS = (
    Variant("pyslowfast", "pyslowfast", "pyslowfast"),
    Variant("ours", "ours", "ours", ref="pyslowfast"),
    Variant("ours-cl", "ours, channels-last", "ours", CHANNELS_LAST, "pyslowfast"),
    Variant("ours-amp", "ours, mixed precision", "ours", MIXED, "pyslowfast"),
    Variant(
        "ours-amp-cl",
        "ours, mixed precision + channels-last",
        "ours",
        MIXED + CHANNELS_LAST,
        "pyslowfast",
    ),
)
VARIANT_KEYS = {v.key: v for v in VARIANTS}


def _variant_keys(text: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in VARIANT_KEYS]
    if unknown or not keys:
        raise argparse.ArgumentTypeError(
            f"unknown variant(s) {unknown or text!r}; choose from {', '.join(VARIANT_KEYS)}"
        )
    return keys


@dataclass
class Timings:
    """Step times of one variant over all rounds."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    info: dict = field(default_factory=dict)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tools/benchmark.py compare",
        description="Time our training step against PySlowFast's for the same config.",
    )
    p.add_argument("--cfg", required=True, help="model config (YAML) both can read")
    p.add_argument("--pyslowfast", required=True, help="a checkout of facebookresearch/SlowFast")
    p.add_argument("--batch", type=int, default=2, help="clips per step (default 2)")
    p.add_argument("--frames", type=int, help="frames per clip (default DATA.NUM_FRAMES)")
    p.add_argument("--crop", type=int, help="crop size (default DATA.TRAIN_CROP_SIZE)")
    p.add_argument("--rounds", type=int, default=2, help="rounds of every variant (default 2)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per run (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps per run (default 1)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    p.add_argument(
        "--variants",
        type=_variant_keys,
        metavar="KEY[,KEY...]",
        help="comma-separated subset of: "
        + "; ".join(f"{v.key} ({v.label})" for v in VARIANTS)
        + " (default: all)",
    )
    p.add_argument(
        "opts", nargs=argparse.REMAINDER, help="config overrides for both: KEY VALUE ..."
    )
    return p


def _run_worker(spec: dict) -> dict:
    # ``root`` goes first on the worker's PYTHONPATH: its ``slowfast`` package is the one timed.
    path = os.pathsep.join(p for p in (spec["root"], os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, WORKER, json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, PYTHONPATH=path),
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"benchmark worker for {spec['impl']} failed:\n{tail}")
    return json.loads(lines[-1][len("RESULT ") :])


def run_compare(args: argparse.Namespace, log=print) -> dict[str, Timings]:
    """Time every variant ``args.rounds`` times in rotating order; returns their timings."""
    pysf = os.path.abspath(args.pyslowfast)
    if not os.path.isfile(os.path.join(pysf, "slowfast", "models", "video_model_builder.py")):
        raise ConfigError(
            f"--pyslowfast {args.pyslowfast}: no slowfast/models/video_model_builder.py there; "
            "pass a checkout of facebookresearch/SlowFast"
        )
    variants = [v for v in VARIANTS if not args.variants or v.key in args.variants]
    if not any(v.base == "pyslowfast" for v in variants):
        variants.insert(0, VARIANTS[0])
    timings = {v.label: Timings() for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        state = os.path.join(tmp, "ours_state.pt")
        base = {
            "cfg": os.path.abspath(args.cfg),
            "opts": list(args.opts),
            "batch": args.batch,
            "frames": args.frames,
            "crop": args.crop,
            "steps": args.steps,
            "warmup": args.warmup,
            "threads": args.threads,
            "seed": 0,
        }
        # Our first run comes first so its weights exist before PySlowFast's runs load them.
        order = sorted(variants, key=lambda v: v.base != "ours")
        for r in range(args.rounds):
            shift = r % len(order)
            turn = order if r == 0 else order[shift:] + order[:shift]
            for v in turn:
                spec = dict(base, impl=v.base, opts=[*base["opts"], *v.opts])
                if v.base == "ours":
                    spec.update(root=OURS_ROOT, state_out=None if os.path.exists(state) else state)
                else:
                    spec.update(root=pysf, state_in=state)
                out = _run_worker(spec)
                t = timings[v.label]
                t.wall += out["wall"]
                t.cpu += out["cpu"]
                t.info = out
                log(
                    f"round {r + 1}/{args.rounds}  {v.label:<40} median step "
                    f"{out['median_wall']:.3f} s (cpu {out['median_cpu']:.3f} s)"
                )
    return timings


def format_report(args: argparse.Namespace, timings: dict[str, Timings]) -> str:
    """A markdown table: median step, clips/s and speedup over PySlowFast for each variant."""
    ref = timings["pyslowfast"]
    ref_wall, ref_cpu = statistics.median(ref.wall), statistics.median(ref.cpu)
    info = ref.info
    lines = [
        f"config {os.path.basename(args.cfg)}, batch {args.batch}, frames "
        f"{args.frames or 'cfg'}, crop {args.crop or 'cfg'}, {info.get('threads')} threads; "
        f"{args.rounds} rounds x {args.steps} steps; PySlowFast from {info.get('model_file')}",
        f"parameters: pyslowfast {info.get('params'):,}; our weights loaded strictly: "
        f"{'yes' if info.get('state_loaded_strictly') else 'no'}",
        "",
        "| variant | median step | clips/s | speedup (wall) | speedup (CPU time) |",
        "|---|---|---|---|---|",
    ]
    for name, t in timings.items():
        wall, cpu = statistics.median(t.wall), statistics.median(t.cpu)
        lines.append(
            f"| {name} | {wall:.3f} s | {args.batch / wall:.2f} | {ref_wall / wall:.2f}x | "
            f"{ref_cpu / cpu:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """Run the comparison described by ``argv`` and print its table; returns 0."""
    args = _parser().parse_args(list(argv))
    timings = run_compare(args)
    print()
    print(format_report(args, timings))
    summary = {
        name: {"median_wall_s": statistics.median(t.wall), "median_cpu_s": statistics.median(t.cpu)}
        for name, t in timings.items()
    }
    print(
        "json_stats: "
        + json.dumps(
            {
                "_type": "compare",
                "cfg": args.cfg,
                "batch": args.batch,
                "crop": args.crop,
                "frames": args.frames,
                **summary,
            }
        )
    )
    return 0
