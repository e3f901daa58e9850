"""Trainer hooks: precise BN, checkpoints, evaluation, TensorBoard, and :func:`default_hooks`,
the hooks ``tools/run_net.py`` trains with (the multigrid hook and the per-step hooks live in
:mod:`slowfast.engine.multigrid_hook` and :mod:`slowfast.engine.step_hooks`; their names are
importable from here too).

Order matters and is fixed by :func:`default_hooks`: the multigrid hook runs first before an
epoch (it may replace the loaders) and before a step (it may switch the phase, so the LR hook
follows it); after a step or an epoch the timer and the rank audit add their fields before the
metrics writer logs the record; then precise BN runs before the checkpoint and the evaluation,
as in PySlowFast.
"""

from __future__ import annotations

import os
import time
from typing import Any

from fvcore.common.config import CfgNode

from slowfast.checkpoint.policy import is_checkpoint_epoch, is_eval_epoch
from slowfast.datasets.loader import construct_loader, shuffle_dataset
from slowfast.engine.evaluator import build_clip_evaluator, run_evaluation
from slowfast.engine.multigrid_hook import MultigridHook
from slowfast.engine.step_hooks import (
    IterationTimer,
    LRScheduler,
    MetricsWriter,
    ProgressBar,
    RankAudit,
)
from slowfast.engine.train_loop import HookBase
from slowfast.engine.trainer import Trainer
from slowfast.models.norm import aggregate_sub_bn_stats
from slowfast.models.precise_bn import update_bn_stats
from slowfast.utils import distributed as du
from slowfast.utils.distributed import unwrap
from slowfast.utils.logging import get_logger, log_json_stats

__all__ = [
    "CheckpointHook",
    "EvalHook",
    "HookBase",
    "IterationTimer",
    "LRScheduler",
    "MetricsWriter",
    "MultigridHook",
    "PreciseBNHook",
    "ProgressBar",
    "RankAudit",
    "TensorBoardHook",
    "default_hooks",
]

logger = get_logger(__name__)


def _is_eval(trainer: Trainer, schedule) -> bool:
    return is_eval_epoch(trainer.cfg, trainer.epoch, _eval_epochs(schedule))


def _is_checkpoint(trainer: Trainer, schedule) -> bool:
    return is_checkpoint_epoch(trainer.cfg, trainer.epoch, _eval_epochs(schedule))


def _eval_epochs(schedule):
    return None if schedule is None else schedule.eval_epochs


class PreciseBNHook(HookBase):
    """Recomputes BN statistics over training batches before checkpoints and evaluations."""

    def __init__(self, schedule=None):
        self.schedule = schedule

    def after_epoch(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        cfg = trainer.cfg
        if not (_is_eval(trainer, self.schedule) or _is_checkpoint(trainer, self.schedule)):
            return
        if cfg.BN.USE_PRECISE_STATS and trainer.precise_bn_loader is not None:
            t0 = time.perf_counter()
            shuffle_dataset(trainer.precise_bn_loader, trainer.epoch)  # same batches on resume
            update_bn_stats(
                unwrap(trainer.model),
                trainer.precise_bn_loader,
                cfg.BN.NUM_BATCHES_PRECISE,
                device=trainer.device,
            )
            logger.info(
                "precise BN over %d batches took %.1f s",
                cfg.BN.NUM_BATCHES_PRECISE,
                time.perf_counter() - t0,
            )
        aggregate_sub_bn_stats(unwrap(trainer.model))


class CheckpointHook(HookBase):
    """Writes ``OUTPUT_DIR/checkpoints/checkpoint_epoch_NNNNN.pyth`` on checkpoint epochs with
    the trainer's :class:`~slowfast.checkpoint.Checkpointer` (model, optimizer, scaler, RNG,
    counters, stateful hooks) and the config in force."""

    def __init__(self, schedule=None):
        self.schedule = schedule

    def after_epoch(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        if _is_checkpoint(trainer, self.schedule):
            trainer.checkpointer.save_epoch(trainer.epoch, cfg=trainer.cfg.dump())


class EvalHook(HookBase):
    """Validates on the "val" split on evaluation epochs (clip-level metrics), logs a
    ``val_epoch`` record, adds ``val_*`` to the epoch's record and keeps the last and the best
    metrics (``val_last``, ``val_best`` and every record, ``val_history``, in the trainer's
    results).

    Validation always uses the configured (full) clip shape, also during multigrid phases, so
    the curve compares like with like from the first epoch to the last. Its time is not
    training time.
    """

    training_time = False

    def __init__(self, cfg: CfgNode, schedule=None):
        self.schedule = schedule
        self.loader = None
        self.evaluator = build_clip_evaluator(bool(cfg.DATA.MULTI_LABEL))
        self.last: dict[str, Any] | None = None
        self.best: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] = []  # every val_epoch record of this process's run

    def before_train(self, trainer: Trainer) -> None:
        # Built up front so that a problem with the val split shows before hours of training.
        self.loader = construct_loader(trainer.base_cfg, "val")

    def after_epoch(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        if not _is_eval(trainer, self.schedule):
            return
        t0 = time.perf_counter()
        metrics = run_evaluation(trainer.model, self.loader, self.evaluator, trainer.device)
        out = {
            "_type": "val_epoch",
            "epoch": trainer.epoch + 1,
            "max_epoch": trainer.cfg.SOLVER.MAX_EPOCH,
            "eval_time_s": time.perf_counter() - t0,
            "train_time_s": trainer.train_time_s,
            "elapsed_s": time.perf_counter() - trainer.t_start,
            "clips_seen": trainer.clips_seen,
        }
        out.update(metrics)
        log_json_stats(out, logger)
        self.history.append(out)
        stats.update({f"val_{k}": v for k, v in metrics.items()})
        self.last = {"epoch": trainer.epoch + 1, **metrics}
        if metrics and (self.best is None or _better(metrics, self.best)):
            self.best = dict(self.last)

    def after_train(self, trainer: Trainer) -> None:
        trainer.results.update(val_last=self.last, val_best=self.best, val_history=self.history)


def _better(metrics: dict[str, Any], best: dict[str, Any]) -> bool:
    """Whether ``metrics`` beat ``best``: a lower top-1 error, or a higher mAP."""
    if "top1_err" in metrics:
        return metrics["top1_err"] < best.get("top1_err", float("inf"))
    return metrics.get("map", float("-inf")) > best.get("map", float("-inf"))


class TensorBoardHook(HookBase):
    """Writes loss, LR, errors, epoch time and the current batch shape as TensorBoard scalars."""

    def __init__(self, cfg: CfgNode):
        # Deferred: importing tensorboard takes seconds and only TENSORBOARD.ENABLE needs it.
        from torch.utils.tensorboard import SummaryWriter

        log_dir = cfg.TENSORBOARD.LOG_DIR or f"runs-{cfg.TRAIN.DATASET}"
        self.writer = SummaryWriter(os.path.join(cfg.OUTPUT_DIR, log_dir))

    def after_step(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        global_step = trainer.clips_seen
        self.writer.add_scalar("Train/loss", stats["loss"], global_step)
        self.writer.add_scalar("Train/lr", stats["lr"], global_step)
        if "top1_err" in stats:
            self.writer.add_scalar("Train/Top1_err", stats["top1_err"], global_step)
            self.writer.add_scalar("Train/Top5_err", stats["top5_err"], global_step)
        b, t, s = (int(v) for v in stats["shape"].split("x"))
        self.writer.add_scalar("Shape/batch_size", b * du.get_world_size(), global_step)
        self.writer.add_scalar("Shape/num_frames", t, global_step)
        self.writer.add_scalar("Shape/crop_size", s, global_step)

    def after_epoch(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        epoch = stats["epoch"]
        self.writer.add_scalar("Epoch/time_s", stats["epoch_time_s"], epoch)
        self.writer.add_scalar("Epoch/loss", stats["loss"], epoch)
        for key in ("val_top1_err", "val_top5_err", "val_map"):
            if key in stats:
                self.writer.add_scalar(f"Val/{key[4:]}", stats[key], epoch)
        self.writer.flush()

    def after_train(self, trainer: Trainer) -> None:
        self.writer.close()


def default_hooks(cfg: CfgNode, schedule=None) -> list[HookBase]:
    """The hooks ``tools/run_net.py`` trains with, in their required order."""
    multigrid = MultigridHook(schedule) if schedule is not None else None
    hooks: list[HookBase] = [multigrid] if multigrid is not None else []
    hooks += [
        LRScheduler(multigrid.lr_at if multigrid is not None else None),
        IterationTimer(),
        RankAudit(),
        MetricsWriter(cfg.LOG_PERIOD, multi_label=bool(cfg.DATA.MULTI_LABEL)),
        ProgressBar(),
        PreciseBNHook(schedule),
        CheckpointHook(schedule),
        EvalHook(cfg, schedule),
    ]
    if cfg.TENSORBOARD.ENABLE and du.is_master_proc():
        hooks.append(TensorBoardHook(cfg))
    return hooks
