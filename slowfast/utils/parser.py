"""Command-line parsing shared by the tools, with PySlowFast's flags.

Accepted forms (all of PySlowFast's, old and new):
``--cfg A.yaml [B.yaml ...] [--opts KEY VALUE ...]`` and ``--cfg A.yaml KEY VALUE ...``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError
from slowfast.config.loader import build_cfg

_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Za-z0-9_]+)*$")


def build_parser(
    description: str = "Train and test video models (PySlowFast-compatible).",
) -> argparse.ArgumentParser:
    """The argument parser with PySlowFast's flags plus ``--dry-run``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--shard_id",
        "--shard-id",
        type=int,
        default=None,
        help="index of this machine, 0 .. num_shards-1 (overrides SHARD_ID)",
    )
    parser.add_argument(
        "--num_shards",
        "--num-shards",
        type=int,
        default=None,
        help="number of machines in the job (overrides NUM_SHARDS)",
    )
    parser.add_argument(
        "--init_method",
        "--init-method",
        default="tcp://localhost:9999",
        help="torch.distributed rendezvous for --num_shards jobs (ignored under torchrun)",
    )
    parser.add_argument(
        "--cfg",
        dest="cfg_files",
        nargs="+",
        default=[],
        metavar="FILE",
        help="config file(s), merged in order; KEY VALUE overrides may follow",
    )
    parser.add_argument(
        "--opts",
        nargs=argparse.REMAINDER,
        default=[],
        help="KEY VALUE overrides (see slowfast/config/defaults.py)",
    )
    parser.add_argument(
        "--dry-run",
        "--dry_run",
        action="store_true",
        help="load and validate the config, build the model, print its size, and exit",
    )
    parser.add_argument(
        "--local-rank", "--local_rank", type=int, default=None, help=argparse.SUPPRESS
    )
    return parser


def _looks_like_key(token: str) -> bool:
    return bool(_KEY_RE.match(token)) and not token.lower().endswith((".yaml", ".yml"))


def parse_args(
    argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None
) -> argparse.Namespace:
    """Parse ``argv``; the config files end at the first token that looks like a config key."""
    parser = parser or build_parser()
    args, rest = parser.parse_known_args(argv)
    files, overrides = [], []
    for i, token in enumerate(args.cfg_files):
        if _looks_like_key(token):
            overrides = list(args.cfg_files[i:])
            break
        files.append(token)
    stray = [t for t in rest if t.startswith("--")]
    if stray:
        parser.error(f"unrecognised arguments: {' '.join(stray)}")
    args.cfg_files = files
    args.opts = overrides + list(rest) + list(args.opts or [])
    return args


def load_config(args: argparse.Namespace, path_to_config: str | None = None) -> CfgNode:
    """Defaults, then the config file(s), then the overrides, then the command-line flags.

    Mirrors PySlowFast's ``load_config``; validation is :func:`assert_and_infer_cfg`'s job.
    """
    files = [path_to_config] if path_to_config else list(getattr(args, "cfg_files", []) or [])
    cfg = build_cfg(files, list(getattr(args, "opts", None) or []))
    if getattr(args, "num_shards", None) is not None:
        cfg.NUM_SHARDS = args.num_shards
    if getattr(args, "shard_id", None) is not None:
        cfg.SHARD_ID = args.shard_id
    if hasattr(args, "rng_seed"):
        cfg.RNG_SEED = args.rng_seed
    if hasattr(args, "output_dir"):
        cfg.OUTPUT_DIR = args.output_dir
    return cfg


def user_error(message: str) -> NoReturn:
    """Print ``message`` as a user error and exit with status 2 (no traceback).

    The line goes out in one write so that the messages of several ranks sharing one
    stderr pipe (torchrun, spawned children) do not interleave.
    """
    sys.stderr.flush()
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(2)


__all__ = ["ConfigError", "build_parser", "load_config", "parse_args", "user_error"]
