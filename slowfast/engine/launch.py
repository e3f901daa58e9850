"""Start the job: one process per GPU (or the processes torchrun made), then train and test."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from fvcore.common.config import CfgNode

from slowfast.checkpoint import get_last_checkpoint
from slowfast.engine.config_check import check_cfg
from slowfast.engine.hooks import default_hooks
from slowfast.engine.tester import test
from slowfast.engine.trainer import build_trainer
from slowfast.utils import distributed as du
from slowfast.utils.job import launch_job
from slowfast.utils.logging import get_logger, setup_logging

logger = get_logger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a run repeats for a given RNG_SEED."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_multigrid_schedule(cfg: CfgNode):
    """(cfg with the solver rewritten, schedule) when multigrid is on, else (cfg, None)."""
    if not (cfg.MULTIGRID.LONG_CYCLE or cfg.MULTIGRID.SHORT_CYCLE):
        return cfg, None
    from slowfast.multigrid import build_schedule, init_cfg

    cfg = init_cfg(cfg)
    schedule = build_schedule(cfg)
    logger.info("multigrid schedule:\n%s", schedule)
    return cfg, schedule


def train(cfg: CfgNode) -> dict[str, Any]:
    """Train with the default hooks (multigrid, LR, records, precise BN, checkpoints, validation,
    TensorBoard); returns the trainer's results (see :meth:`Trainer.train`)."""
    cfg, schedule = build_multigrid_schedule(cfg)
    if cfg.LOG_MODEL_INFO and du.is_master_proc():
        from slowfast.models import build_model
        from slowfast.models.stats import log_model_info

        with torch.random.fork_rng():  # logging must not change the training's random stream
            log_model_info(build_model(cfg), cfg)
    return build_trainer(cfg, hooks=default_hooks(cfg, schedule)).train()


def _match_world_size(cfg: CfgNode) -> CfgNode:
    """Under torchrun the job's size comes from WORLD_SIZE; make NUM_SHARDS agree with it so
    that everything sized by processes (multigrid BN groups, batch splits) sees the real count."""
    world = du.get_world_size()
    per_node = max(cfg.NUM_GPUS, 1)
    if world > 1 and world != per_node * cfg.NUM_SHARDS and world % per_node == 0:
        cfg = cfg.clone()
        cfg.defrost()
        cfg.NUM_SHARDS = world // per_node
        check_cfg(cfg, warn=False)  # warned once already, at the entry point
    return cfg


def _job(cfg: CfgNode) -> dict[str, Any]:
    """What every process runs once the process group (if any) is up; returns ``{"train":
    train results, "test": test metrics}`` for the stages that ran."""
    cfg = _match_world_size(cfg)
    setup_logging(cfg.OUTPUT_DIR, du.is_master_proc(), du.get_rank())
    backend = du.get_backend()
    logger.info(
        "rank %d, world size: %d, backend: %s, device: %s",
        du.get_rank(),
        du.get_world_size(),
        backend,
        du.get_device(cfg),
    )
    logger.info("config:\n%s", cfg.dump())
    seed_everything(cfg.RNG_SEED)
    results: dict[str, Any] = {}
    try:
        if cfg.TRAIN.ENABLE:
            results["train"] = train(cfg)
        if cfg.TEST.ENABLE:
            results["test"] = test(cfg)
    except BaseException as err:
        if du.get_world_size() > 1 and du.is_collective_failure(err):
            du.report_lost_peer(err, get_last_checkpoint(cfg.OUTPUT_DIR))
        raise
    return results


def run(
    cfg: CfgNode,
    init_method: str = "tcp://localhost:9999",
    user_errors: tuple[type[BaseException], ...] = (),
) -> dict[str, Any] | None:
    """Launch :func:`_job` on every process of the job (PySlowFast's launch semantics);
    ``user_errors`` are reported by spawned processes as one line (see ``launch_job``). A cfg
    that did not come through the CLI (not frozen) is validated and frozen here, on a copy.
    Returns :func:`_job`'s results when the job runs in this process, None when it spawned
    children."""
    if not cfg.is_frozen():
        cfg = check_cfg(cfg.clone())
    return launch_job(cfg, init_method, _job, user_errors=user_errors)
