"""Small torchrun jobs of ``tools/run_net.py`` on the tiny synthetic SlowFast, as the stress tool
and the distributed tests start them: the command line, a free port and the tiny model's keys."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence

from sftools.demo import R18_LAYOUT
from sftools.paths import CONFIGS_DIR, REPO_ROOT

RUN_NET = os.path.join(REPO_ROOT, "tools", "run_net.py")
TINY_CFG = os.path.join(CONFIGS_DIR, "Synthetic", "SLOWFAST_tiny.yaml")
# A small, fast network: SlowFast with ResNet-18-style stages at width 4 on 8 x 32^2 clips.
TINY_MODEL = [
    *R18_LAYOUT,
    "LOG_MODEL_INFO",
    "False",
    "LOG_PERIOD",
    "100",
]


def free_port() -> int:
    """A port the OS has just handed out, so that concurrent jobs do not collide."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_run_args(overrides: Sequence[str], out: str | os.PathLike, *opts: str) -> list[str]:
    """``tools/run_net.py`` arguments: the tiny config and model on a dataset (its ``overrides``,
    from ``make_dataset``), writing to ``out``, then ``opts``."""
    return ["--cfg", TINY_CFG, *overrides, *TINY_MODEL, "OUTPUT_DIR", str(out), *opts]


def torchrun_command(
    run_net_args: Sequence[str],
    port: int,
    nproc_per_node: int = 2,
    nnodes: int = 1,
    node_rank: int = 0,
) -> list[str]:
    """``python -m torch.distributed.run ... tools/run_net.py ARGS``; with ``nnodes`` > 1 the
    agents meet at 127.0.0.1 (several "machines" on this host)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc_per_node)]
    if nnodes > 1:
        cmd += ["--nnodes", str(nnodes), "--node_rank", str(node_rank)]
        cmd += ["--master_addr", "127.0.0.1"]
    return [*cmd, "--master_port", str(port), RUN_NET, *run_net_args]
