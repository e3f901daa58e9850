"""Logging set-up: stdout and ``OUTPUT_DIR/stdout.log`` on the master process, plus json_stats.

Every module logs through :func:`get_logger`; only the process that calls :func:`setup_logging`
with ``is_master=True`` prints, so multi-process runs do not repeat each line N times.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import simplejson

_FORMAT = "[%(asctime)s][%(levelname)s] %(name)s:%(lineno)d: %(message)s"
_ROOT = "slowfast"


def setup_logging(
    output_dir: str | None = None, is_master: bool = True, rank: int | None = None
) -> None:
    """Send the package's log records to stdout (and ``output_dir/stdout.log``) on the master;
    other processes print only warnings and errors, to stderr, marked with their ``rank`` (so
    that a surviving rank can say what happened to the job)."""
    logger = logging.getLogger(_ROOT)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    if not is_master:
        console = logging.StreamHandler(stream=sys.stderr)
        console.setLevel(logging.WARNING)
        tag = f"[rank {rank}]" if rank is not None else "[worker]"
        console.setFormatter(logging.Formatter(tag + _FORMAT, datefmt="%m/%d %H:%M:%S"))
        logger.addHandler(console)
        return
    fmt = logging.Formatter(_FORMAT, datefmt="%m/%d %H:%M:%S")
    console = logging.StreamHandler(stream=sys.stdout)
    console.setFormatter(fmt)
    logger.addHandler(console)
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        fh = logging.FileHandler(os.path.join(output_dir, "stdout.log"), mode="a")
        fh.setFormatter(fmt)
        logger.addHandler(fh)


def get_logger(name: str) -> logging.Logger:
    """A logger under the package root, so :func:`setup_logging` controls it."""
    if not name.startswith(_ROOT):
        name = f"{_ROOT}.{name}"
    return logging.getLogger(name)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, RuntimeError):
            return str(value)
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def log_json_stats(stats: dict[str, Any], logger: logging.Logger | None = None) -> None:
    """Log ``stats`` as one ``json_stats: {...}`` line (the format PySlowFast's tools parse)."""
    stats = {k: _jsonable(v) for k, v in stats.items()}
    line = simplejson.dumps(stats, sort_keys=True, use_decimal=True, ignore_nan=True)
    (logger or get_logger(__name__)).info("json_stats: %s", line)
