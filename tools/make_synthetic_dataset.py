#!/usr/bin/env python3
"""Write a synthetic video dataset (Kinetics, SSv2 or Charades format) whose classes need time.

Example: ``tools/make_synthetic_dataset.py --format kinetics --out data/synth --num-classes 10
--train 600 --val 150 --test 0 --seed 0``; it prints the config overrides that point at it.
"""

import argparse
import os
import sys
import time


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT, e.g. 128x96, got {text!r}"
        ) from None
    return width, height


def main(argv: list[str]) -> int:
    from slowfast.datasets.synthetic import FORMATS, MAX_CLASSES, make_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=FORMATS, required=True)
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--num-classes", type=int, default=10, help=f"2..{MAX_CLASSES}")
    parser.add_argument("--train", type=int, default=600, help="training videos")
    parser.add_argument("--val", type=int, default=150, help="validation videos")
    parser.add_argument("--test", type=int, default=0, help="test videos (kinetics only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=parse_size, default=(128, 96), help="WIDTHxHEIGHT")
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2, help="processes")
    parser.add_argument(
        "--period-scale", type=float, default=1.0, help="stretch every motion's period (slower)"
    )
    parser.add_argument(
        "--pair-shapes",
        action="store_true",
        help="draw each class pair with its own shape (one frame tells the pair)",
    )
    args = parser.parse_args(argv)

    splits = {"train": args.train, "val": args.val}
    if args.test:
        splits["test"] = args.test
    start = time.time()
    try:
        keys = ("seed", "size", "fps", "seconds", "workers", "period_scale", "pair_shapes")
        options = {k: getattr(args, k) for k in keys}
        info = make_dataset(
            args.format, os.path.abspath(args.out), args.num_classes, splits, **options
        )
    except ValueError as e:
        parser.error(str(e))
    total = sum(splits.values())
    print(f"wrote {total} {args.format} videos to {info['root']} in {time.time() - start:.1f} s")
    print("config overrides:", " ".join(info["overrides"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
