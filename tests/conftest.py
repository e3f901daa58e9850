"""Shared test set-up: the repository root on sys.path and quiet, single-threaded torch."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


import logging  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _reset_package_logging():
    """Undo what a test's in-process tools/run_net.py did to the package logger (handlers to
    its OUTPUT_DIR, no propagation), so the next test starts from the default."""
    yield
    logger = logging.getLogger("slowfast")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)
