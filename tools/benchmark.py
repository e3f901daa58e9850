#!/usr/bin/env python3
"""Benchmarks: ``tools/benchmark.py model --cfg FILE ...``, ``tools/benchmark.py data --cfg
FILE ...`` or ``tools/benchmark.py compare --cfg FILE --pyslowfast DIR ...`` (our training step
vs PySlowFast's);
``tools/benchmark.py data --multigrid --cfg FILE ...``: the loader's cost at every shape of a
multigrid schedule and the loader-bound speed-up (``tools/sftools/phase_benchmark.py``).

Each prints throughput measured in this process; compare runs side by side, not across days.
"""

import sys

_USAGE = "usage: tools/benchmark.py {model,data,compare} --cfg FILE [options] [KEY VALUE ...]"


def main(argv: list[str]) -> int:
    """Dispatch to the benchmark named by the first argument."""
    if not argv or argv[0] not in ("model", "data", "compare"):
        print(_USAGE, file=sys.stderr)
        return 2
    if argv[0] == "model":
        from sftools.model_benchmark import main as run
    elif argv[0] == "compare":
        from sftools.compare import main as run
    elif "--multigrid" in argv:
        from sftools.phase_benchmark import main as run
    else:
        from sftools.data_benchmark import main as run
    from slowfast.engine.cli import user_error_types
    from slowfast.utils.parser import user_error

    try:
        return run(argv[1:])
    except user_error_types() as e:  # a bad config or dataset: the message, exit status 2
        user_error(str(e))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
