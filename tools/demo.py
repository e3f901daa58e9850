#!/usr/bin/env python3
"""``make demo``: baseline vs multigrid on a synthetic Kinetics-format dataset, side by side.

Options: --out DIR (output/demo), --data DIR (data/synthetic_kinetics), --size default|long|tiny
(long: twice the epoch budget for both runs), --pair-shapes (classes whose pair one frame tells,
as in Kinetics; data in data/synthetic_kinetics_pairs unless --data says otherwise), --train N
(N training videos instead of the size's, with the same validation and test videos; data in
data/synthetic_kinetics[_pairs]_trainN unless --data says otherwise), --model slowfast|x3d|mvit
(the network of both runs: configs/Synthetic/{SLOWFAST,X3D,MVITv2}_demo[_multigrid].yaml), then
KEY VALUE config overrides applied to both runs.
"""

import argparse
import sys


def main(argv: list[str]) -> int:
    from sftools.demo import MODEL_RUNS, SIZES, run_demo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="output/demo", help="where runs, summary and figures go")
    parser.add_argument("--data", help="dataset folder (made if absent)")
    parser.add_argument("--size", default="default", choices=sorted(SIZES))
    parser.add_argument(
        "--pair-shapes",
        action="store_true",
        help="each class pair drawn with its own shape (one frame tells the pair)",
    )
    parser.add_argument(
        "--train",
        type=int,
        metavar="N",
        help="training videos (default: the size's; the same validation and test videos)",
    )
    parser.add_argument(
        "--model", default="slowfast", choices=sorted(MODEL_RUNS), help="the network of both runs"
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides for both runs")
    args = parser.parse_args(argv)
    if args.train is not None and args.train < 1:
        parser.error(f"--train takes a positive number of videos, got {args.train}")
    data = args.data or (
        "data/synthetic_kinetics"
        + ("_pairs" if args.pair_shapes else "")
        + ("" if args.train is None else f"_train{args.train}")
    )
    run_demo(
        args.out,
        data,
        args.size,
        args.opts,
        pair_shapes=args.pair_shapes,
        train_videos=args.train,
        model=args.model,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
