#!/usr/bin/env python3
"""Gradient noise scale, gradient alignment and sharpness of a model at several clip shapes:
``tools/gradient_noise.py --cfg FILE [--weights CKPT] --shape BxTxS [--shape ...] [--batches K]
[--sharpness] [KEY VALUE ...]`` (see ``tools/sftools/gradient_noise.py``)."""

import sys


def main(argv: list[str]) -> int:
    from sftools.gradient_noise import main as run
    from slowfast.engine.cli import user_error_types
    from slowfast.utils.parser import user_error

    try:
        return run(argv)
    except user_error_types() as e:  # a bad config or dataset: the message, exit status 2
        user_error(str(e))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
