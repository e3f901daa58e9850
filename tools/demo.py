#!/usr/bin/env python3
"""``make demo``: baseline vs multigrid on a synthetic Kinetics-format dataset, side by side.

Options: --out DIR (output/demo), --data DIR (data/synthetic_kinetics), --size default|long|tiny
(long: twice the epoch budget for both runs),
then KEY VALUE config overrides applied to both runs.
"""

import argparse
import sys


def main(argv: list[str]) -> int:
    from sftools.demo import SIZES, run_demo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="output/demo", help="where runs, summary and figures go")
    parser.add_argument(
        "--data", default="data/synthetic_kinetics", help="dataset folder (made if absent)"
    )
    parser.add_argument("--size", default="default", choices=sorted(SIZES))
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides for both runs")
    args = parser.parse_args(argv)
    run_demo(args.out, args.data, args.size, args.opts)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
