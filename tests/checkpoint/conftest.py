"""Fixtures of the checkpoint tests."""

import logging

import pytest


@pytest.fixture
def logs(caplog):
    """caplog that sees the package's records (the "slowfast" logger does not always propagate
    once a run has set up its handlers)."""
    root = logging.getLogger("slowfast")
    root.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="slowfast")
    yield caplog
    root.removeHandler(caplog.handler)
