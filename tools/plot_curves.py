"""Plot training loss and validation error (or mAP) of one or more runs.

Usage: python tools/plot_curves.py OUTPUT_DIR [OUTPUT_DIR2 ...] [--out FILE.png]

Each OUTPUT_DIR must hold the run's stdout.log; the figure goes to --out (default
OUTPUT_DIR/curves.png of the first run) and its path is printed.
"""

from __future__ import annotations

import argparse
import os
import sys

from sftools.curves import plot_runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dirs", nargs="+", help="run directories holding stdout.log")
    parser.add_argument("--out", default=None, help="PNG to write (default: first/curves.png)")
    args = parser.parse_args(argv)
    out = args.out or os.path.join(args.output_dirs[0], "curves.png")
    try:
        path = plot_runs(args.output_dirs, out)
    except (FileNotFoundError, ValueError) as err:
        print(f"plot_curves: error: {err}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
