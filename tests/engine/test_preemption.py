"""Preemption: SIGTERM / SIGUSR1 mid-epoch finish the step, write a mid-epoch checkpoint and stop
with status 75; the same command resumes with the same batches from the next iteration and ends
with exactly the state of an uninterrupted run (also inside a multigrid phase and short cycle).
"""

import os
import signal
import subprocess
import time

import pytest
import torch

from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.engine.hooks import CheckpointHook, default_hooks
from slowfast.engine.launch import build_multigrid_schedule, seed_everything
from slowfast.engine.trainer import HookBase, Trainer
from slowfast.utils.logging import setup_logging
from slowfast.utils.preemption import PREEMPTED_EXIT_CODE, Preempted
from tests.engine.conftest import TINY_CFG, TINY_MODEL, records, run_net_command

PLAIN = [
    "SOLVER.MAX_EPOCH",
    "3",
    "TRAIN.BATCH_SIZE",
    "4",
    "TEST.ENABLE",
    "False",
    "LOG_PERIOD",
    "1",
]


class SignalAt(HookBase):
    """Sends this process a real signal just before global iteration ``at`` runs."""

    def __init__(self, at, signum=signal.SIGTERM):
        self.at, self.signum = at, signum

    def before_step(self, trainer):
        if trainer.iter == self.at:
            os.kill(os.getpid(), self.signum)


def _cfg(info, out, *opts):
    return assert_and_infer_cfg(
        build_cfg([TINY_CFG], [*info["overrides"], *TINY_MODEL, "OUTPUT_DIR", str(out), *opts])
    )


def _train(base, extra_hook=None):
    """Train in this process as run_net does; returns the Preempted error, or None."""
    setup_logging(base.OUTPUT_DIR)
    seed_everything(base.RNG_SEED)
    cfg, schedule = build_multigrid_schedule(base)
    hooks = default_hooks(cfg, schedule) + ([extra_hook] if extra_hook else [])
    try:
        Trainer(cfg, hooks=hooks).train()
    except Preempted as err:
        return err
    return None


def _iters(out):
    """(epoch, iteration, shape, loss, lr) of every training step, in log order."""
    return [
        (r["epoch"], r["iter"], r["shape"], r["loss"], r["lr"]) for r in records(out, "train_iter")
    ]


def _final(out):
    last = sorted(p for p in os.listdir(out / "checkpoints") if "_iter_" not in p)[-1]
    return last, torch.load(out / "checkpoints" / last, weights_only=True)


def _assert_same_state(full, resumed):
    name_a, a = _final(full)
    name_b, b = _final(resumed)
    assert name_a == name_b
    assert a["model_state"].keys() == b["model_state"].keys()
    for key in a["model_state"]:  # weights and BN statistics, bit for bit
        assert torch.equal(a["model_state"][key], b["model_state"][key]), key
    for key in a.get("split_bn_state", {}):
        assert torch.equal(a["split_bn_state"][key], b["split_bn_state"][key]), key


def test_sigterm_mid_epoch_resumes_exactly(datasets, tmp_path):
    info = datasets["kinetics"]
    _train(_cfg(info, tmp_path / "full", *PLAIN))
    out = tmp_path / "part"
    # 6 iterations per epoch: the signal comes before iteration 4 of epoch 2 (global 8).
    err = _train(_cfg(info, out, *PLAIN), SignalAt(8))
    assert err is not None and "epoch 2, iteration 3/6" in str(err)
    files = sorted(os.listdir(out / "checkpoints"))
    assert files == ["checkpoint_epoch_00001.pyth", "checkpoint_epoch_00002_iter_000003.pyth"]
    mid = torch.load(out / "checkpoints" / files[1], weights_only=True)
    assert mid["epoch"] == 0  # PySlowFast would restart epoch 2 from its start
    assert (mid["extra"]["resume"]["epoch"], mid["extra"]["resume"]["iter"]) == (1, 3)
    (stop,) = records(out, "preempted")
    assert (stop["signal"], stop["epoch"], stop["iter"]) == ("SIGTERM", 2, 3)
    # The signal's handler is gone once training returns.
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    assert _train(_cfg(info, out, *PLAIN)) is None
    assert "Continuing epoch 2 at iteration 4 of 6" in (out / "stdout.log").read_text()
    # The same steps (batches, shapes, losses, LRs) in the same order, none repeated or lost.
    assert _iters(out) == _iters(tmp_path / "full")
    assert len(_iters(out)) == 18
    _assert_same_state(tmp_path / "full", out)
    # The epoch summaries continue the interrupted epoch's totals.
    full_epochs = records(tmp_path / "full", "train_epoch")
    part_epochs = records(out, "train_epoch")
    assert [(r["loss"], r["clips_seen"]) for r in part_epochs] == [
        (r["loss"], r["clips_seen"]) for r in full_epochs
    ]
    # The mid-epoch file is superseded by epoch 2's checkpoint.
    assert not [p for p in os.listdir(out / "checkpoints") if "_iter_" in p]


def test_sigusr1_inside_a_multigrid_short_cycle_resumes_exactly(datasets, tmp_path):
    from slowfast.multigrid import build_schedule, init_cfg
    from slowfast.multigrid.plan import IterationPlan
    from tests.engine.test_multigrid_training import MULTIGRID

    info = datasets["kinetics_mg"]
    opts = [
        *MULTIGRID,
        "SOLVER.MAX_EPOCH",
        "4",
        "SOLVER.STEPS",
        "[0, 2, 3]",
        "TEST.ENABLE",
        "False",
        "LOG_PERIOD",
        "1",
    ]
    base = _cfg(info, tmp_path / "full", *opts)
    plan = IterationPlan(build_schedule(init_cfg(base)), 40)
    # A signal inside an epoch, inside a phase whose short cycle is not at its start.
    at = next(
        i
        for i in range(plan.epoch_starts[1] + 1, plan.num_iters)
        if i not in plan.epoch_starts
        and (i - plan.span_at(i).start_iter) % len(plan.span_at(i).shapes) not in (0, 1)
        and len(plan.span_at(i).shapes) > 1
        and plan.span_at(i).start_iter < i - 1
    )
    _train(base)
    out = tmp_path / "part"
    err = _train(_cfg(info, out, *opts), SignalAt(at, signal.SIGUSR1))
    assert err is not None
    (stop,) = records(out, "preempted")
    assert stop["signal"] == "SIGUSR1"
    assert _train(_cfg(info, out, *opts)) is None
    assert _iters(out) == _iters(tmp_path / "full")
    _assert_same_state(tmp_path / "full", out)


def _wait_for(path, text, proc, limit_s=300):
    """Wait until ``text`` appears in the file at ``path`` (the run's log)."""
    deadline = time.time() + limit_s
    while time.time() < deadline:
        if path.exists() and text in path.read_text():
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended (status {proc.returncode}) before {text!r} appeared")
        time.sleep(0.2)
    pytest.fail(f"{text!r} did not appear in {path}")


def test_sigterm_to_every_process_of_the_job_then_rerun(datasets, tmp_path):
    """tools/run_net.py with two loader workers; SIGTERM goes to the whole process group (as
    SLURM signals every process of a job): status 75, a mid-epoch file, and the same command
    then finishes the run."""
    info = datasets["kinetics"]
    out = tmp_path / "run"
    cmd = run_net_command(
        info,
        str(out),
        *PLAIN,
        "TRAIN.BATCH_SIZE",
        "2",
        "DATA_LOADER.NUM_WORKERS",
        "2",
        "SOLVER.MAX_EPOCH",
        "6",
    )
    err_file = tmp_path / "stderr.txt"
    with open(err_file, "w") as err:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=err, text=True, start_new_session=True
        )
        # Epoch 2 under way (four more epochs to go, so the signal lands inside training).
        _wait_for(out / "stdout.log", '"epoch": 2, "eta_epoch_s"', proc)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=300)
    stderr = err_file.read_text()
    assert proc.returncode == PREEMPTED_EXIT_CODE, stderr[-3000:]
    assert "preempted: preempted at epoch" in stderr and "Traceback" not in stderr
    mid = [p for p in os.listdir(out / "checkpoints") if "_iter_" in p]
    assert len(mid) == 1 and mid[0].startswith("checkpoint_epoch_0000")
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    epochs = records(out, "train_epoch")
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4, 5, 6]
    assert [r["clips_seen"] for r in epochs] == [24 * e for e in range(1, 7)]
    assert sorted(os.listdir(out / "checkpoints")) == [
        f"checkpoint_epoch_0000{e}.pyth" for e in range(1, 7)
    ]


def test_a_trainer_without_the_default_hooks_resumes_mid_epoch(datasets, tmp_path):
    """The mid-epoch file of a run whose hook list has no MetricsWriter (no per-process
    counters in it) still continues the interrupted epoch."""
    cfg = _cfg(datasets["kinetics"], tmp_path / "bare", *PLAIN, "SOLVER.MAX_EPOCH", "2")
    setup_logging(cfg.OUTPUT_DIR)
    seed_everything(cfg.RNG_SEED)
    with pytest.raises(Preempted):
        Trainer(cfg, hooks=[CheckpointHook(), SignalAt(3)]).train()
    resumed = Trainer(cfg, hooks=[CheckpointHook()])
    resumed.train()
    # Stopped after the step of iteration 3 (4 done); the rest of epoch 1, then epoch 2.
    assert (resumed.start_epoch, resumed.start_iter) == (0, 4)
    assert resumed.iter == 2 * len(resumed.train_loader)


@pytest.fixture(scope="module")
def uninterrupted(datasets, tmp_path_factory):
    """OUTPUT_DIR of a plain run loading in the main process (no workers)."""
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    _train(_cfg(datasets["kinetics"], out, *PLAIN, "DATA_LOADER.NUM_WORKERS", "0"))
    return out


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_resume_with_any_number_of_loader_workers_equals_the_uninterrupted_run(
    datasets, tmp_path, uninterrupted, workers
):
    """Stopped mid-epoch and at an epoch boundary, resumed with 0, 1 or 2 loader workers: the
    same steps and bit for bit the weights of a run that loaded everything in the main process
    and was never stopped."""
    info = datasets["kinetics"]
    out = tmp_path / "part"
    opts = (*PLAIN, "DATA_LOADER.NUM_WORKERS", str(workers))
    assert _train(_cfg(info, out, *opts), SignalAt(8)) is not None
    assert _train(_cfg(info, out, *opts), SignalAt(11)) is not None
    assert _train(_cfg(info, out, *opts)) is None
    # Stopped inside epoch 2, then after its last step (the epoch boundary).
    assert [(r["epoch"], r["iter"]) for r in records(out, "preempted")] == [(2, 3), (2, 6)]
    log = (out / "stdout.log").read_text()
    assert "Continuing epoch 2 at iteration 4 of 6" in log
    assert _iters(out) == _iters(uninterrupted)
    _assert_same_state(uninterrupted, out)
