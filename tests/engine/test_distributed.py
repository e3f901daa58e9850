"""A 2-process CPU (gloo) job started by torchrun: one distributed job, disjoint data per rank,
rank 0 alone writes, and the loss follows the 1-process run with the same global batch.
"""

import os
import signal
import subprocess
import textwrap
import time

import pytest
import torch

from sftools.torchrun import free_port, tiny_run_args, torchrun_command
from tests.engine.conftest import records, run_net


def test_torchrun_two_processes_gloo(datasets, tmp_path):
    info = datasets["kinetics"]
    opts = ["SOLVER.MAX_EPOCH", "2", "TEST.NUM_ENSEMBLE_VIEWS", "1", "TEST.NUM_SPATIAL_CROPS", "1"]
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", SLOWFAST_DIST_TIMEOUT_S="120")
    cmd = torchrun_command(tiny_run_args(info["overrides"], str(out), *opts), free_port())
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = (out / "stdout.log").read_text()
    assert "world size: 2, backend: gloo" in log
    assert log.count("world size:") == 1  # only rank 0 logs
    epochs = records(out, "train_epoch")
    assert [r["epoch"] for r in epochs] == [1, 2]
    for r in epochs:  # 24 clips, 12 per rank, none seen twice
        assert (r["rank_samples"], r["distinct_samples"], r["rank_overlap"]) == (12, 24, 0)
        assert r["clips_seen"] == 24 * r["epoch"]
    (test,) = records(out, "test_final")
    assert test["num_videos"] == 8
    assert sorted(os.listdir(out / "checkpoints")) == [
        "checkpoint_epoch_00001.pyth",
        "checkpoint_epoch_00002.pyth",
    ]
    # The same global batch in one process: the loss curve agrees within tolerance.
    single = tmp_path / "single"
    assert run_net(info, single, *opts, "TEST.ENABLE", "False") == 0
    for a, b in zip(epochs, records(single, "train_epoch")):
        assert abs(a["loss"] - b["loss"]) < 0.25 * b["loss"], (a["loss"], b["loss"])


def test_torchrun_multigrid_two_processes(datasets, tmp_path):
    """Multigrid under 2 gloo processes (global batch 2: the fine phases use sync-BN across the
    two processes): both ranks switch shapes together (the job would hang or fail otherwise),
    every epoch's data is split disjointly, and the run completes."""
    from tests.engine.test_multigrid_training import MULTIGRID

    info = datasets["kinetics_mg"]
    out = tmp_path / "ddp_mg"
    env = dict(os.environ, OMP_NUM_THREADS="1", SLOWFAST_DIST_TIMEOUT_S="120")
    opts = list(MULTIGRID)
    cmd = torchrun_command(
        tiny_run_args(
            info["overrides"],
            str(out),
            *opts,
            "BN.USE_PRECISE_STATS",
            "False",
            "TEST.ENABLE",
            "False",
        ),
        free_port(),
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    epochs = records(out, "train_epoch")
    switches = records(out, "multigrid_switch")
    assert len(switches) >= 4 and len({s["num_frames"] for s in switches}) == 3
    for r in epochs:
        assert r["rank_overlap"] == 0 and r["iters"] > 0


# -- a job that loses a process ------------------------------------------------------------------

FAILING_MODEL = textwrap.dedent(
    """
    import torch
    from torch import nn

    from slowfast.models import MODEL_REGISTRY
    from slowfast.utils import distributed as du


    @MODEL_REGISTRY.register()
    class FailsOnRankOne(nn.Module):
        \"\"\"A pooled linear classifier whose rank-1 copy raises at its 30th training step.\"\"\"

        def __init__(self, cfg):
            super().__init__()
            self.fc = nn.Linear(sum(cfg.DATA.INPUT_CHANNEL_NUM), cfg.MODEL.NUM_CLASSES)
            self.steps = 0

        def forward(self, pathways):
            if self.training:
                self.steps += 1
                if du.get_rank() == 1 and self.steps == 30:
                    raise RuntimeError("simulated failure on rank 1")
            return self.fc(torch.cat([x.mean(dim=(2, 3, 4)) for x in pathways], dim=1))
    """
)


def _two_machines(info, out, tmp_path, *opts, env=None):
    """Two torchrun agents (``--nnodes 2``, one process each) on this host, like two machines;
    each in its own session so that one "machine" can be killed as a whole."""
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    procs, logs = [], []
    for node in (0, 1):
        args = tiny_run_args(
            info["overrides"],
            out,
            "TRAIN.BATCH_SIZE",
            "2",
            "SOLVER.MAX_EPOCH",
            "40",
            "TEST.ENABLE",
            "False",
            *opts,
        )
        cmd = torchrun_command(args, port, nproc_per_node=1, nnodes=2, node_rank=node)
        log = open(tmp_path / f"node{node}.txt", "w")
        procs.append(
            subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        )
        logs.append(log)
    return procs, logs


def _machine(pid):
    """The agent ``pid`` and every process below it (torchrun starts each worker in a session of
    its own, so a process-group kill would miss them)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def _signal_machine(proc, signum):
    for pid in _machine(proc.pid):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _wait_for_checkpoint(out, procs, limit_s=300):
    """Wait until the job has written its first checkpoint (training under way)."""
    deadline = time.time() + limit_s
    while not (out / "checkpoints" / "checkpoint_epoch_00001.pyth").exists():
        if any(p.poll() is not None for p in procs):
            pytest.fail("a node ended before the first checkpoint")
        if time.time() > deadline:
            pytest.fail("no checkpoint written")
        time.sleep(0.2)


def _survivor_says(tmp_path, proc, logs, out):
    """The survivor (node 0, rank 0) ends non-zero within the bound; its log's last error line
    names the lost rank and the checkpoint to resume from."""
    status = proc.wait(timeout=240)
    for log in logs:
        log.close()
    assert status != 0
    text = (tmp_path / "node0.txt").read_text()
    (line,) = [ln for ln in text.splitlines() if "the distributed job cannot go on" in ln]
    assert "lost rank(s) [1] of 2" in line, line
    assert str(out / "checkpoints" / "checkpoint_epoch_0000") in line, line
    torch.load(line.split("Last checkpoint: ")[1].split(" (run")[0], weights_only=True)
    return text


@pytest.mark.parametrize("how", ["killed", "hung"])
def test_two_machine_job_ends_when_a_peer_is_lost(datasets, tmp_path, how):
    """SIGKILL of one machine (agent and worker), or SIGSTOP (a hung machine: the collective
    timeout must end the job). The timeout (60 s) leaves a busy machine room for a slow first
    collective and still ends the job well within the survivor's 240 s bound."""
    out = tmp_path / "job"
    procs, logs = _two_machines(
        datasets["kinetics"], out, tmp_path, env={"SLOWFAST_DIST_TIMEOUT_S": "60"}
    )
    try:
        _wait_for_checkpoint(out, procs)
        _signal_machine(procs[1], signal.SIGKILL if how == "killed" else signal.SIGSTOP)
        _survivor_says(tmp_path, procs[0], logs, out)
    finally:
        for p in procs:
            _signal_machine(p, signal.SIGKILL)
            p.wait()


def test_two_machine_job_ends_when_a_rank_raises(datasets, tmp_path):
    path = tmp_path / "failing_model.py"
    path.write_text(FAILING_MODEL)
    out = tmp_path / "job"
    procs, logs = _two_machines(
        datasets["kinetics"],
        out,
        tmp_path,
        "MODEL.MODEL_NAME",
        "FailsOnRankOne",
        env={"SLOWFAST_EXTRA_MODULES": str(path), "SLOWFAST_DIST_TIMEOUT_S": "60"},
    )
    try:
        assert procs[1].wait(timeout=300) != 0
        _survivor_says(tmp_path, procs[0], logs, out)
        assert "simulated failure on rank 1" in (tmp_path / "node1.txt").read_text()
    finally:
        for p in procs:
            _signal_machine(p, signal.SIGKILL)
            p.wait()


def test_user_error_in_a_torchrun_worker_exits_2(datasets, tmp_path):
    """A data error in every worker: each exits with status 2 and the one-line message."""
    info = datasets["kinetics"]
    cmd = torchrun_command(
        tiny_run_args(
            info["overrides"],
            str(tmp_path / "o"),
            "DATA.PATH_TO_DATA_DIR",
            str(tmp_path / "missing"),
        ),
        free_port(),
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode != 0
    # One message per worker; count occurrences, not lines, since the two workers share one pipe.
    message = f"error: Kinetics val annotation file not found: {tmp_path / 'missing' / 'val.csv'}"
    assert proc.stderr.count(message) == 2, proc.stderr[-3000:]
    assert proc.stderr.count("exitcode  : 2") >= 1, proc.stderr[-3000:]
    assert "slowfast/" not in proc.stderr.split("error: ")[0]  # no traceback of ours before it


def test_torchrun_job_preempted_then_resumed(datasets, tmp_path):
    """SIGTERM to the torchrun agent alone (it passes it on to its workers): both ranks stop
    after the same step, one mid-epoch checkpoint is written, and the same command finishes
    the run with every epoch's data still split disjointly."""
    info = datasets["kinetics"]
    out = tmp_path / "job"
    cmd = torchrun_command(
        tiny_run_args(
            info["overrides"],
            str(out),
            "TRAIN.BATCH_SIZE",
            "2",
            "SOLVER.MAX_EPOCH",
            "8",
            "TEST.ENABLE",
            "False",
            "LOG_PERIOD",
            "1",
        ),
        free_port(),
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", SLOWFAST_DIST_TIMEOUT_S="120")
    with open(tmp_path / "agent.txt", "w") as log:
        agent = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 300
        while '"epoch": 2, "eta_epoch_s"' not in _text(out / "stdout.log"):
            assert agent.poll() is None and time.time() < deadline, "no epoch 2"
            time.sleep(0.2)
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=300)
    assert agent.returncode != 0
    (stop,) = records(out, "preempted")
    mid = [p for p in os.listdir(out / "checkpoints") if "_iter_" in p]
    assert mid == [f"checkpoint_epoch_{stop['epoch']:05d}_iter_{stop['iter']:06d}.pyth"]
    said = _text(tmp_path / "agent.txt")
    assert said.count(f"preempted: preempted at epoch {stop['epoch']}, iteration") == 2, said
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    epochs = records(out, "train_epoch")
    assert [r["epoch"] for r in epochs] == list(range(1, 9))
    for r in epochs:  # also the interrupted epoch: its first part's samples were kept
        assert (r["rank_samples"], r["distinct_samples"], r["rank_overlap"]) == (12, 24, 0)
        assert r["clips_seen"] == 24 * r["epoch"]


def _text(path):
    return path.read_text() if path.exists() else ""
