#!/usr/bin/env python3
"""Benchmarks: ``tools/benchmark.py model --cfg FILE ...``, ``tools/benchmark.py data --cfg FILE ...``
or ``tools/benchmark.py compare --cfg FILE --pyslowfast DIR ...`` (our training step vs PySlowFast's).

Each prints throughput measured in this process; compare runs side by side, not across days.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_USAGE = "usage: tools/benchmark.py {model,data,compare} --cfg FILE [options] [KEY VALUE ...]"


def main(argv: list[str]) -> int:
    """Dispatch to the benchmark named by the first argument."""
    if not argv or argv[0] not in ("model", "data", "compare"):
        print(_USAGE, file=sys.stderr)
        return 2
    if argv[0] == "model":
        from slowfast.models.benchmark import main as run
    elif argv[0] == "compare":
        from slowfast.models.compare import main as run
    else:
        from slowfast.datasets.benchmark import main as run
    return run(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
