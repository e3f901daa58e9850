#!/usr/bin/env python3
"""Regenerate the PySlowFast reference fixtures of the tests from a PySlowFast checkout, or check
them: ``tools/regenerate_fixtures.py --pyslowfast /path/to/SlowFast [--check] [NAME ...]``, NAME
one of configs, layouts, schedules (default: all). See ``tools/sftools/pyslowfast_fixtures.py``.
Exit status 1 with ``--check`` when a fixture differs from what the checkout computes."""

import argparse
import sys


def main(argv: list[str]) -> int:
    from sftools.pyslowfast_fixtures import BUILDERS, regenerate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyslowfast", required=True, help="a facebookresearch/SlowFast checkout")
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    parser.add_argument("names", nargs="*", choices=[[], *BUILDERS], help="fixtures (default all)")
    args = parser.parse_args(argv)
    result = regenerate(args.pyslowfast, args.names or list(BUILDERS), args.check)
    for name, unchanged in result.items():
        verb = "unchanged" if unchanged else ("DIFFERS" if args.check else "rewritten, changed")
        print(f"{name}: {verb}")
    return 0 if all(result.values()) or not args.check else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
