"""Tiny synthetic datasets written once per test session, and configs pointing at them."""

from __future__ import annotations

import os

import pytest

from slowfast.datasets.synthetic import make_dataset

from .helpers import SIZE, small_cfg


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> str:
    """Kinetics (4 classes), SSv2 (4) and Charades (5) datasets of a few tiny videos each."""
    root = str(tmp_path_factory.mktemp("synthetic"))
    common = dict(seed=3, size=SIZE, fps=15.0, workers=1)
    splits = {"train": 8, "val": 4, "test": 2}
    make_dataset("kinetics", os.path.join(root, "kinetics"), 4, splits, seconds=1.4, **common)
    splits = {"train": 6, "val": 3}
    make_dataset("ssv2", os.path.join(root, "ssv2"), 4, splits, seconds=1.0, **common)
    make_dataset("charades", os.path.join(root, "charades"), 5, splits, seconds=2.0, **common)
    return root


@pytest.fixture
def kinetics_cfg(data_root):
    return lambda *opts: small_cfg(os.path.join(data_root, "kinetics"), "kinetics", 4, *opts)


@pytest.fixture
def ssv2_cfg(data_root):
    return lambda *opts: small_cfg(os.path.join(data_root, "ssv2"), "ssv2", 4, *opts)


@pytest.fixture
def charades_cfg(data_root):
    return lambda *opts: small_cfg(os.path.join(data_root, "charades"), "charades", 5, *opts)
