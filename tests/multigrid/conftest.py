"""Fixtures shared by the multigrid tests."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

import pytest


@pytest.fixture
def package_log(caplog) -> Callable[[int, str], contextlib.AbstractContextManager]:
    """``with package_log(level, name):`` clears ``caplog``, then captures the records of logger
    ``name`` at ``level`` in it, although the "slowfast" logger may not propagate."""

    @contextlib.contextmanager
    def capture(level: int, name: str) -> Iterator[None]:
        caplog.clear()
        logger = logging.getLogger("slowfast")
        logger.propagate, old = True, logger.propagate
        try:
            with caplog.at_level(level, logger=name):
                yield
        finally:
            logger.propagate = old

    return capture
