"""The "Adding a hook" example of docs/TRAINING.md runs as written: its hook adds a field to the
epoch records, its results reach the caller of ``train()``, and its state survives a mid-epoch
preemption; ``train()`` returns the run's results.
"""

import os
import re

import pytest

from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.engine.launch import seed_everything
from slowfast.utils.logging import setup_logging
from slowfast.utils.preemption import Preempted
from tests.engine.conftest import ROOT, TINY_CFG, TINY_MODEL, records
from tests.engine.test_preemption import SignalAt

OPTS = ["SOLVER.MAX_EPOCH", "2", "TRAIN.BATCH_SIZE", "4", "TEST.ENABLE", "False", "LOG_PERIOD", "1"]


def _example() -> dict:
    """The namespace of the python block under "## Adding a hook" in docs/TRAINING.md."""
    with open(os.path.join(ROOT, "docs", "TRAINING.md")) as f:
        text = f.read()
    section = text.split("## Adding a hook", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    namespace: dict = {"__name__": "docs_training_example"}
    exec(compile(code, "docs/TRAINING.md", "exec"), namespace)  # noqa: S102 (the doc's code)
    return namespace


def _cfg(info, out):
    return assert_and_infer_cfg(
        build_cfg([TINY_CFG], [*info["overrides"], *TINY_MODEL, "OUTPUT_DIR", str(out), *OPTS])
    )


def _rises_per_epoch(out):
    """The example's count recomputed from the logged steps (LOG_PERIOD 1: every step)."""
    counts, last = {}, {}
    for r in records(out, "train_iter"):
        e = r["epoch"]
        counts.setdefault(e, 0)
        counts[e] += r["loss"] > last.get(e, float("inf"))
        last[e] = r["loss"]
    return [counts[e] for e in sorted(counts)]


def test_adding_a_hook_example_runs(datasets, tmp_path):
    example = _example()
    info = datasets["kinetics"]
    out = tmp_path / "full"
    cfg = _cfg(info, out)
    setup_logging(str(out))
    seed_everything(cfg.RNG_SEED)
    results = example["train_with_loss_rises"](cfg)

    epochs = records(out, "train_epoch")
    assert [r["loss_rises"] for r in epochs] == _rises_per_epoch(out)
    assert results["loss_rises"] == [r["loss_rises"] for r in epochs]
    # What train() returns: the records the run logged, and where its files are.
    # (The logs round floats to 6 significant digits.)
    last, done = results["train"], results["train_done"]
    assert results["epochs"] == 2 and last["_type"] == "train_epoch" and last["epoch"] == 2
    assert last["clips_seen"] == epochs[-1]["clips_seen"] == done["clips_seen"] == 48
    assert last["loss"] == pytest.approx(epochs[-1]["loss"], rel=1e-5)
    assert last["val_top1_err"] == records(out, "val_epoch")[-1]["top1_err"]
    assert done["clips_by_shape"] == records(out, "train_done")[-1]["clips_by_shape"]
    (val_last, val_best) = results["val_last"], results["val_best"]
    val = records(out, "val_epoch")
    assert val_last["epoch"] == 2 and val_last["top1_err"] == val[-1]["top1_err"]
    assert val_best["top1_err"] == min(r["top1_err"] for r in val)
    assert results["last_checkpoint"].endswith("checkpoint_epoch_00002.pyth")
    assert os.path.isfile(results["last_checkpoint"])
    assert results["output_dir"] == str(out) and os.path.isfile(results["log_file"])

    # Preempted inside epoch 2 and resumed: the hook's mid-epoch state comes back, so the
    # records show the counts of the uninterrupted run.
    part = tmp_path / "part"
    for extra in ([SignalAt(8)], []):  # 6 steps per epoch: stopped inside epoch 2, then resumed
        cfg = _cfg(info, part)
        setup_logging(str(part))
        seed_everything(cfg.RNG_SEED)
        try:
            example["build_trainer"](cfg, example["hooks_with_loss_rises"](cfg) + extra).train()
            assert not extra, "the run was not preempted"
        except Preempted:
            assert extra
    assert len(records(part, "preempted")) == 1
    assert _rises_per_epoch(part) == _rises_per_epoch(out)
    assert [r["loss_rises"] for r in records(part, "train_epoch")] == [
        r["loss_rises"] for r in epochs
    ]
