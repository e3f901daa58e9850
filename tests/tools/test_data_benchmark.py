"""The data benchmark runs end to end on a tiny dataset and reports both pipelines."""

from __future__ import annotations

import os

import pytest

from sftools.data_benchmark import main
from slowfast.datasets.synthetic import make_dataset


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> str:
    """A Kinetics-format dataset of a few tiny 64x48 videos, in ``kinetics/``."""
    root = str(tmp_path_factory.mktemp("data_benchmark"))
    make_dataset(
        "kinetics",
        os.path.join(root, "kinetics"),
        4,
        {"train": 8, "val": 4, "test": 2},
        seed=3,
        size=(64, 48),
        fps=15.0,
        workers=1,
        seconds=1.4,
    )
    return root


def test_benchmark_reports_ours_and_the_baselines(tmp_path, data_root, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(
        "DATA:\n  NUM_FRAMES: 8\n  SAMPLING_RATE: 2\n  TARGET_FPS: 15\n"
        "  TRAIN_JITTER_SCALES: [40, 48]\n  TRAIN_CROP_SIZE: 32\n"
        "SLOWFAST:\n  ALPHA: 4\nMODEL:\n  NUM_CLASSES: 4\nNUM_GPUS: 0\n"
    )
    folder = os.path.join(data_root, "kinetics")
    argv = [
        "data",
        "--cfg",
        str(cfg),
        "--iters",
        "3",
        "--clips",
        "2",
        "--workers",
        "0",
        "--baseline",
        "pyslowfast",
        "--baseline",
        "pyslowfast-selective",
        "TRAIN.BATCH_SIZE",
        "4",
        "DATA.PATH_TO_DATA_DIR",
        folder,
        "DATA.PATH_PREFIX",
        folder,
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "ours" in out and "pyslowfast (emulated)" in out
    assert "vs pyslowfast-selective (emulated):" in out and "x clips/s" in out
