#!/usr/bin/env python3
"""Stress the shutdown of distributed jobs: N consecutive small 2-process torchrun jobs (gloo,
CPU) with CPU-bound load beside them; every job must exit 0.

Example: ``python tools/stress_distributed.py --jobs 20 --load 2``. Prints one line per job and
a summary; keeps the output of failed jobs under ``--out``. Exit status: the number of failed
jobs (0 when all passed, capped at 100).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time

from sftools.paths import REPO_ROOT as ROOT
from sftools.torchrun import free_port, tiny_run_args, torchrun_command


def burn() -> None:
    """A CPU-bound process (the "busy machine")."""
    x = 0
    while True:
        x = (x * 1103515245 + 12345) % 2**31


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20, help="consecutive torchrun jobs")
    parser.add_argument("--load", type=int, default=2, help="CPU-bound processes beside them")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per job")
    parser.add_argument("--out", default=os.path.join(ROOT, "output", "stress_distributed"))
    args = parser.parse_args(argv)

    from slowfast.datasets.synthetic import make_dataset

    shutil.rmtree(args.out, ignore_errors=True)
    info = make_dataset(
        "kinetics",
        os.path.join(args.out, "data"),
        4,
        {"train": 24, "val": 8, "test": 8},
        seed=1,
        size=(48, 40),
        fps=15,
        seconds=1.4,
    )
    load = [mp.Process(target=burn, daemon=True) for _ in range(args.load)]
    for p in load:
        p.start()
    failures = []
    t0 = time.time()
    try:
        for job in range(args.jobs):
            out = os.path.join(args.out, f"job{job:03d}")
            opts = ["SOLVER.MAX_EPOCH", str(args.epochs), "TEST.NUM_ENSEMBLE_VIEWS", "1"]
            opts += ["TEST.NUM_SPATIAL_CROPS", "1"]
            cmd = torchrun_command(tiny_run_args(info["overrides"], out, *opts), free_port())
            env = dict(os.environ, OMP_NUM_THREADS="1")
            start = time.time()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
            ok = proc.returncode == 0
            print(
                f"job {job + 1}/{args.jobs}: exit {proc.returncode} in {time.time() - start:.0f} s",
                flush=True,
            )
            if ok:
                shutil.rmtree(out, ignore_errors=True)
            else:
                failures.append(job)
                os.makedirs(out, exist_ok=True)
                with open(os.path.join(out, "torchrun_output.txt"), "w") as f:
                    f.write(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    finally:
        for p in load:
            p.terminate()
    print(
        f"{args.jobs} jobs with {args.load} CPU-bound processes beside them: "
        f"{args.jobs - len(failures)} exited 0, {len(failures)} failed {failures} "
        f"({time.time() - t0:.0f} s)"
    )
    return min(len(failures), 100)


if __name__ == "__main__":
    sys.exit(main())
