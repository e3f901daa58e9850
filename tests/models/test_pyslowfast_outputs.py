"""Our zoo computes what PySlowFast's does: for every model of the PySlowFast fixture, with the
same weights (set by a rule on the state dict, whose layout is PySlowFast's) and the same clips,
the scores in eval mode (softmax) and in training mode (batch statistics, sub-BN splits) equal
those PySlowFast's own builder gave, and fvcore counts the same GFLOPs. The fixture was made by
``tools/regenerate_fixtures.py --pyslowfast /path/to/SlowFast outputs`` (PySlowFast 287ec00)."""

from __future__ import annotations

import gzip
import json
import os

import pytest
import torch

from sftools.pyslowfast_worker import OUTPUT_CLASSES, OUTPUT_OPTS, clip_inputs, fill_weights
from slowfast.config import build_cfg
from slowfast.models import build_model
from slowfast.models.stats import gflops

from .tiny import config_path

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "pyslowfast_outputs.json.gz")


def _reference() -> dict:
    with gzip.open(FIXTURE, "rt") as f:
        return json.load(f)["models"]


@pytest.mark.parametrize("key", sorted(_reference()))
def test_outputs_and_gflops_equal_pyslowfast(key):
    ref = _reference()[key]
    name, _, variant = key.partition("+")  # our NAME.yaml, PySlowFast's overrides for variants
    opts = ["NUM_GPUS", "0", *(ref["overrides"] if variant else []), *OUTPUT_OPTS]
    cfg = build_cfg([config_path(name + ".yaml")], opts)
    model = build_model(cfg)
    model.load_state_dict(fill_weights(model.state_dict()))
    multi = cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH
    x = clip_inputs(cfg.DATA.NUM_FRAMES, cfg.SLOWFAST.ALPHA if multi else None)
    with torch.no_grad():
        evaluated = model.eval()(x)[:, :OUTPUT_CLASSES]
        trained = model.train()(x)[:, :OUTPUT_CLASSES]
    torch.testing.assert_close(evaluated, torch.tensor(ref["eval"]), rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(trained, torch.tensor(ref["train"]), rtol=1e-4, atol=1e-5)
    assert gflops(model, cfg, "train") == pytest.approx(ref["gflops_64"], rel=1e-9)
