#!/usr/bin/env python3
"""Train and/or test a video model: ``python tools/run_net.py --cfg FILE [KEY VALUE ...]``.

Same flags as PySlowFast (--cfg, --opts, --init_method, --num_shards, --shard_id); also runs
under torchrun. ``--dry-run`` validates the config and prints the model's size.
"""

import sys

from slowfast.engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
