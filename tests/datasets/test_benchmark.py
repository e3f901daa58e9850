"""The data benchmark runs end to end on a tiny dataset and reports both pipelines."""

from __future__ import annotations

import os

from slowfast.datasets.benchmark import main


def test_benchmark_reports_ours_and_the_baselines(tmp_path, data_root, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(
        "DATA:\n  NUM_FRAMES: 8\n  SAMPLING_RATE: 2\n  TARGET_FPS: 15\n"
        "  TRAIN_JITTER_SCALES: [40, 48]\n  TRAIN_CROP_SIZE: 32\n"
        "SLOWFAST:\n  ALPHA: 4\nMODEL:\n  NUM_CLASSES: 4\nNUM_GPUS: 0\n"
    )
    folder = os.path.join(data_root, "kinetics")
    argv = [
        "data", "--cfg", str(cfg), "--iters", "3", "--clips", "2", "--workers", "0",
        "--baseline", "pyslowfast", "--baseline", "pyslowfast-selective",
        "TRAIN.BATCH_SIZE", "4", "DATA.PATH_TO_DATA_DIR", folder, "DATA.PATH_PREFIX", folder,
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "ours" in out and "pyslowfast (emulated)" in out
    assert "vs pyslowfast-selective (emulated):" in out and "x clips/s" in out
