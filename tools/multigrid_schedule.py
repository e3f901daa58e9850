#!/usr/bin/env python3
"""Print (and optionally save as JSON / plot) the multigrid schedule of a config.

    python tools/multigrid_schedule.py --cfg FILE [--json OUT.json] [--png OUT.png]
        [--num-videos N] [KEY VALUE ...]

Config mistakes are reported on stderr with exit status 2.
"""

import argparse
import sys

from slowfast.config.errors import ConfigError
from slowfast.multigrid.report import KINETICS400_TRAIN_VIDEOS, run_report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cfg", dest="cfg_file", required=True, metavar="FILE", help="config")
    parser.add_argument("--json", metavar="OUT.json", help="write the schedule as JSON")
    parser.add_argument("--png", metavar="OUT.png", help="draw the schedule")
    parser.add_argument(
        "--num-videos",
        type=int,
        default=KINETICS400_TRAIN_VIDEOS,
        metavar="N",
        help=f"training videos, for iterations per epoch (default {KINETICS400_TRAIN_VIDEOS}, "
        "Kinetics-400)",
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    if any(token.startswith("--") for token in args.opts):
        parser.error("options go before the KEY VALUE overrides")
    if len(args.opts) % 2:
        parser.error(f"KEY VALUE overrides come in pairs, got {args.opts}")
    if args.num_videos <= 0:
        parser.error(f"--num-videos must be positive, got {args.num_videos}")
    try:
        print(run_report([args.cfg_file], args.opts, args.num_videos, args.json, args.png))
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
