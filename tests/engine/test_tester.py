"""The multi-view tester, called directly: with a head that always answers one class, the
top-1 error is the share of test videos of another class (read from the annotation file, not
from the tester); the per-video scores file holds every video once; an unvalidated config is
validated on a copy."""

from __future__ import annotations

import csv
import os

import pytest
import torch

from slowfast.checkpoint.safetensors_file import write_safetensors
from slowfast.config import ConfigError, build_cfg
from slowfast.engine.tester import test as run_test
from slowfast.models import build_model
from tests.engine.conftest import TINY_CFG, TINY_MODEL

ANSWER = 2  # the class the rigged head always picks


def _cfg(info, out, *opts):
    return build_cfg(
        [TINY_CFG],
        [*info["overrides"], *TINY_MODEL, "OUTPUT_DIR", str(out), "TRAIN.ENABLE", "False", *opts],
    )


def _rigged_weights(cfg, path):
    """Weights whose head ignores its input and scores class ANSWER highest."""
    torch.manual_seed(0)
    state = build_model(cfg).state_dict()
    state["head.projection.weight"] = torch.zeros_like(state["head.projection.weight"])
    bias = torch.zeros_like(state["head.projection.bias"])
    bias[ANSWER] = 5.0
    state["head.projection.bias"] = bias
    write_safetensors(path, state)


def _test_labels(info):
    with open(os.path.join(info["root"], "test.csv")) as f:
        return [int(row[-1]) for row in csv.reader(f, delimiter=" ")]


def test_the_tester_scores_every_view_of_every_video(datasets, tmp_path):
    info = datasets["kinetics"]
    weights = str(tmp_path / "rigged.safetensors")
    cfg = _cfg(info, tmp_path, "TEST.CHECKPOINT_FILE_PATH", weights)
    cfg.TEST.SAVE_RESULTS_PATH = "scores.pyth"
    _rigged_weights(cfg, weights)
    labels = _test_labels(info)
    assert len(labels) == 8 and len(set(labels)) > 1  # the answer is right for some only
    metrics = run_test(cfg)  # not frozen: validated on a copy
    assert not cfg.is_frozen()
    assert metrics["num_videos"] == 8 and metrics["views"] == 2 * 3
    wrong = sum(label != ANSWER for label in labels)
    assert metrics["top1_err"] == pytest.approx(100.0 * wrong / len(labels))
    saved = torch.load(tmp_path / "scores.pyth", weights_only=True)
    assert saved["preds"].shape == (8, 4) and saved["video_idx"].tolist() == list(range(8))
    assert saved["labels"].tolist() == labels
    assert (saved["preds"].argmax(1) == ANSWER).all()


def test_the_tester_validates_an_unvalidated_config(datasets, tmp_path):
    cfg = _cfg(datasets["kinetics"], tmp_path, "TEST.NUM_SPATIAL_CROPS", "2")
    with pytest.raises(ConfigError, match="TEST.NUM_SPATIAL_CROPS: must be 1 or 3, got 2"):
        run_test(cfg)
