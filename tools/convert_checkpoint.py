#!/usr/bin/env python3
"""Convert a model's weights between formats: ``tools/convert_checkpoint.py SRC DST [--cfg FILE]
[--type pytorch|caffe2] [KEY VALUE ...]``, SRC a ``.pyth``, Caffe2 ``.pkl`` or ``.safetensors``
file, DST a ``.safetensors`` or ``.pyth`` file (see ``tools/sftools/convert.py``)."""

import sys


def main(argv: list[str]) -> int:
    from sftools.convert import main as run
    from slowfast.engine.cli import user_error_types
    from slowfast.utils.parser import user_error

    try:
        return run(argv)
    except (*user_error_types(), ValueError) as e:  # a bad file or config: message, status 2
        user_error(str(e))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
