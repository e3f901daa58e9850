"""Checkpoint/resume: an interrupted run, resumed with AUTO_RESUME, ends with exactly the weights
of an uninterrupted run; a run killed with SIGKILL mid-epoch finishes when restarted.
"""

import os
import signal
import subprocess
import time

import pytest
import torch

from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.engine.hooks import default_hooks
from slowfast.engine.launch import seed_everything
from slowfast.engine.trainer import HookBase, Trainer
from slowfast.utils.logging import setup_logging
from tests.engine.conftest import TINY_CFG, TINY_MODEL, records, run_net_command


class _Stop(Exception):
    pass


class StopAfter(HookBase):
    """Simulates a crash right after the checkpoint of epoch ``k`` (1-based)."""

    def __init__(self, k):
        self.k = k

    def after_epoch(self, trainer, stats):
        if trainer.epoch + 1 == self.k:
            raise _Stop


def _cfg(info, out, *opts):
    cfg = build_cfg(
        [TINY_CFG],
        [
            *info["overrides"],
            *TINY_MODEL,
            "OUTPUT_DIR",
            str(out),
            "SOLVER.MAX_EPOCH",
            "3",
            "TEST.ENABLE",
            "False",
            *opts,
        ],
    )
    return assert_and_infer_cfg(cfg)


def _train(cfg, stop_after=None):
    setup_logging(cfg.OUTPUT_DIR)
    seed_everything(cfg.RNG_SEED)
    hooks = default_hooks(cfg)
    if stop_after:
        hooks.append(StopAfter(stop_after))
    trainer = Trainer(cfg, hooks=hooks)
    try:
        trainer.train()
    except _Stop:
        pass
    return trainer


def _final_state(out):
    path = os.path.join(out, "checkpoints", "checkpoint_epoch_00003.pyth")
    return torch.load(path, map_location="cpu", weights_only=True)["model_state"]


def test_resume_matches_uninterrupted_run(datasets, tmp_path):
    info = datasets["kinetics"]
    full = _cfg(info, tmp_path / "full")
    _train(full)
    part = _cfg(info, tmp_path / "part")
    _train(part, stop_after=1)
    assert sorted(os.listdir(tmp_path / "part" / "checkpoints")) == ["checkpoint_epoch_00001.pyth"]
    resumed = _train(part)
    assert resumed.start_epoch == 1
    a, b = _final_state(tmp_path / "full"), _final_state(tmp_path / "part")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # The resumed run's counters continue where the first part stopped.
    epochs = records(tmp_path / "part", "train_epoch")
    assert [r["clips_seen"] for r in epochs] == [24, 48, 72]


def test_truncated_newest_checkpoint_is_skipped(datasets, tmp_path):
    info = datasets["kinetics"]
    cfg = _cfg(info, tmp_path / "run")
    _train(cfg, stop_after=2)
    newest = tmp_path / "run" / "checkpoints" / "checkpoint_epoch_00002.pyth"
    newest.write_bytes(newest.read_bytes()[:100])
    trainer = _train(cfg)
    assert trainer.start_epoch == 1  # resumed from epoch 1's file
    log = (tmp_path / "run" / "stdout.log").read_text()
    assert "Skipping unreadable checkpoint" in log and "checkpoint_epoch_00002.pyth" in log


def test_sigkill_mid_epoch_then_rerun_finishes(datasets, tmp_path):
    info = datasets["kinetics"]
    out = tmp_path / "killed"
    cmd = run_net_command(
        info,
        str(out),
        "SOLVER.MAX_EPOCH",
        "3",
        "TRAIN.BATCH_SIZE",
        "2",
        "TEST.ENABLE",
        "False",
        "LOG_PERIOD",
        "1",
    )
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    log = out / "stdout.log"
    deadline = time.time() + 240
    # Kill once epoch 2 is under way (epoch 1's checkpoint written, epoch 2 not finished).
    while True:
        text = log.read_text() if log.exists() else ""
        if "checkpoint_epoch_00001.pyth" in text and '"epoch": 2,' in text:
            break
        if proc.poll() is not None:
            pytest.fail("the run ended before it could be killed")
        if time.time() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("epoch 2 did not start within 240 s")
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "checkpoints" / "checkpoint_epoch_00003.pyth").exists()
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert (out / "checkpoints" / "checkpoint_epoch_00003.pyth").exists()
    text = log.read_text()
    assert "Resuming from" in text
    assert not [p for p in os.listdir(out / "checkpoints") if not p.endswith(".pyth")]
