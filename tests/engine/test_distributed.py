"""A 2-process CPU (gloo) job started by torchrun: one distributed job, disjoint data per rank,
rank 0 alone writes, and the loss follows the 1-process run with the same global batch.
"""

import os
import socket
import subprocess
import sys

from tests.engine.conftest import ROOT, TINY_CFG, TINY_MODEL, records, run_net


def free_port() -> int:
    """A port the OS has just handed out, so that concurrent runs of the suite do not collide."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_gloo(datasets, tmp_path):
    info = datasets["kinetics"]
    opts = ["SOLVER.MAX_EPOCH", "2", "TEST.NUM_ENSEMBLE_VIEWS", "1", "TEST.NUM_SPATIAL_CROPS", "1"]
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", SLOWFAST_DIST_TIMEOUT_S="120")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_port", str(free_port()), os.path.join(ROOT, "tools", "run_net.py"),
        "--cfg", TINY_CFG, *info["overrides"], *TINY_MODEL, "OUTPUT_DIR", str(out), *opts,
    ]
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
        "checkpoint_epoch_00001.pyth", "checkpoint_epoch_00002.pyth"
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
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_port", str(free_port()), os.path.join(ROOT, "tools", "run_net.py"),
        "--cfg", TINY_CFG, *info["overrides"], *TINY_MODEL, "OUTPUT_DIR", str(out), *opts,
        "BN.USE_PRECISE_STATS", "False", "TEST.ENABLE", "False",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    epochs = records(out, "train_epoch")
    switches = records(out, "multigrid_switch")
    assert len(switches) >= 4 and len({s["num_frames"] for s in switches}) == 3
    for r in epochs:
        assert r["rank_overlap"] == 0 and r["iters"] > 0
