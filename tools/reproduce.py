#!/usr/bin/env python3
"""Small-scale analogues of the paper's tables; writes projects/multigrid/RESULTS.md.

Options: --out FILE.md, --runs-dir DIR, --data DIR, --size default|tiny, --only KEY [KEY ...]
(run keys: base mg base18 mg18 single base_cos mg_cos long short), --reuse (read runs that
already finished under --runs-dir from their logs instead of training them again), --scale
[N ...] (the scale study instead of the tables: baseline and multigrid with whole-epoch and with
iteration phases at each training-set size N, default 150 300 600 1200 2400; the sizes measured
so far are kept in scale_study.json beside --out, so a call with one N adds or replaces that
row), then KEY VALUE overrides.
"""

import argparse
import os
import sys


def main(argv: list[str]) -> int:
    from sftools.demo import SIZES
    from sftools.reproduce import RUN_LIST, run_reproduction
    from sftools.scale_study import SCALE_SIZES, run_scale_study

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="projects/multigrid/RESULTS.md")
    parser.add_argument("--runs-dir", default="output/reproduce")
    parser.add_argument("--data", default="data/synthetic_kinetics")
    parser.add_argument("--size", default="default", choices=sorted(SIZES))
    parser.add_argument("--only", nargs="+", default=[], choices=[r.key for r in RUN_LIST])
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="read finished runs under --runs-dir from their logs, do not retrain",
    )
    parser.add_argument(
        "--scale",
        nargs="*",
        type=int,
        metavar="N",
        help="run the scale study at these training-set sizes "
        f"(default {' '.join(map(str, SCALE_SIZES))})",
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides for every run")
    args = parser.parse_args(argv)
    if args.scale is not None:
        run_scale_study(
            args.out,
            os.path.join(args.runs_dir, "scale"),
            os.path.join(os.path.dirname(args.data.rstrip("/")) or ".", "synthetic_kinetics_scale"),
            args.scale or SCALE_SIZES,
            args.opts,
            reuse=args.reuse,
        )
        return 0
    run_reproduction(
        args.out, args.runs_dir, args.data, args.size, args.only, args.opts, reuse=args.reuse
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
