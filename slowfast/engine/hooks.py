"""Trainer hooks: multigrid shape changes, precise BN, checkpoints, evaluation, TensorBoard.

Order matters and is fixed by :func:`default_hooks`: the multigrid hook runs first before an
epoch (it may replace the loaders); after an epoch precise BN runs before the checkpoint and the
evaluation, as in PySlowFast.
"""

from __future__ import annotations

import os
import time
from typing import Any

from fvcore.common.config import CfgNode

from slowfast.datasets.build import build_dataset
from slowfast.datasets.loader import construct_loader, shuffle_dataset
from slowfast.engine.evaluator import ClipEvaluator, run_evaluation
from slowfast.engine.trainer import HookBase, Trainer
from slowfast.models.norm import aggregate_sub_bn_stats, convert_norm
from slowfast.multigrid.schedule import Schedule
from slowfast.multigrid.plan import IterationPlan, PhaseSpan
from slowfast.multigrid.sampler import epoch_loader, precise_bn_loader
from slowfast.multigrid.cfg_rewrite import apply_phase
from slowfast.utils import distributed as du
from slowfast.utils.distributed import unwrap
from slowfast.utils.checkpoint import is_checkpoint_epoch, is_eval_epoch, save_checkpoint
from slowfast.utils.logging import get_logger, log_json_stats

logger = get_logger(__name__)


class MultigridHook(HookBase):
    """Drives training by the multigrid schedule, placed at iterations for the training set.

    The training dataset is built once. Each epoch's loader takes its batch sizes and clip shapes
    (long and short cycles) from the :class:`~slowfast.multigrid.plan.IterationPlan`, the LR of
    every iteration comes from the plan, and when an iteration starts a new phase the config is
    rewritten for it (PySlowFast's keys), the BN modules are switched in place and the precise-BN
    loader follows the phase's shape.
    """

    def __init__(self, schedule: Schedule):
        self.schedule = schedule
        self.plan: IterationPlan | None = None
        self.dataset = None
        self.span = None

    def before_train(self, trainer: Trainer) -> None:
        t0 = time.perf_counter()
        self.dataset = build_dataset(trainer.cfg.TRAIN.DATASET, trainer.cfg, "train")
        self.plan = IterationPlan(self.schedule, len(self.dataset))
        plan = self.plan
        logger.info(
            "multigrid plan for %d training videos (%s phases): %d iterations in %d epochs, "
            "phases start at iterations %s, warm-up %s; built in %.2f s",
            plan.num_videos, self.schedule.unit, plan.num_iters, plan.num_epochs,
            [sp.start_iter for sp in plan.spans],
            "over %d iterations" % plan.warmup_iters if plan.warmup_iters is not None
            else "over %g epochs" % trainer.cfg.SOLVER.WARMUP_EPOCHS,
            time.perf_counter() - t0,
        )
        trainer.lr_fn = lambda epoch, it, iters: plan.lr_at(plan.epoch_starts[epoch] + it)
        self._start_epoch(trainer, trainer.start_epoch)

    def before_epoch(self, trainer: Trainer) -> None:
        if getattr(trainer.train_loader, "plan_epoch", None) != trainer.epoch:
            self._start_epoch(trainer, trainer.epoch)

    def before_step(self, trainer: Trainer) -> None:
        self._follow(trainer, mid_epoch=True)

    def _start_epoch(self, trainer: Trainer, epoch: int) -> None:
        trainer.iter = self.plan.epoch_starts[min(epoch, self.plan.num_epochs)]
        if epoch == trainer.start_epoch:
            trainer.iter += trainer.start_iter  # resumed inside this epoch
        if epoch >= self.plan.num_epochs:
            return
        trainer.train_loader = epoch_loader(self.dataset, self.plan, epoch, trainer.cfg)
        trainer.train_loader.plan_epoch = epoch
        # The phase of the epoch's first iteration, so that the cfg, BN and precise-BN loader
        # are right even for an epoch with no iteration.
        self._follow(trainer)

    def _follow(self, trainer: Trainer, mid_epoch: bool = False) -> None:
        """Switch to the phase of iteration ``trainer.iter`` if it is not the current one."""
        span = self.plan.span_at(trainer.iter)
        if span is not self.span:
            self._switch(trainer, span, mid_epoch)

    def _switch(self, trainer: Trainer, span: PhaseSpan, mid_epoch: bool) -> None:
        phase = span.phase
        t0 = time.perf_counter()
        trainer.cfg = apply_phase(trainer.cfg, phase)
        convert_norm(unwrap(trainer.model), trainer.cfg)
        trainer.wrap_ddp()
        if trainer.cfg.BN.USE_PRECISE_STATS:
            trainer.precise_bn_loader = precise_bn_loader(self.dataset, span, trainer.cfg)
        t_switch = time.perf_counter() - t0
        cfg = trainer.cfg
        self.span = span
        short = " ".join(f"{b}@{c}" for b, c in phase.short_cycle)
        logger.info(
            "multigrid: iteration %d (epoch %d) -> phase %d (%s, %d iterations): %d frames, "
            "batch@crop %s, sampling rate up to %d, BN %s (splits %d, sync %d); switch took "
            "%.2f s",
            trainer.iter, trainer.epoch + 1, phase.index, phase.kind, span.num_iters,
            phase.num_frames, short, cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE or
            cfg.DATA.SAMPLING_RATE, cfg.BN.NORM_TYPE, cfg.BN.NUM_SPLITS,
            cfg.BN.NUM_SYNC_DEVICES, t_switch,
        )
        log_json_stats(
            {
                "_type": "multigrid_switch",
                "epoch": trainer.epoch + 1,
                "iter": trainer.iter,
                "phase": phase.index,
                "phase_iters": span.num_iters,
                "batch_size": cfg.TRAIN.BATCH_SIZE,
                "num_frames": cfg.DATA.NUM_FRAMES,
                "crop_size": cfg.DATA.TRAIN_CROP_SIZE,
                "norm_type": cfg.BN.NORM_TYPE,
                "switch_time_s": t_switch,
                # Mid-epoch, how long the phase's first step waited for its batch (the loader's
                # gap at the change); at an epoch's start the epoch record's first_batch_s.
                "batch_wait_s": trainer.batch_wait_s if mid_epoch else None,
            },
            logger,
        )


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
            from slowfast.utils.precise_bn import update_bn_stats

            t0 = time.perf_counter()
            shuffle_dataset(trainer.precise_bn_loader, trainer.epoch)  # same batches on resume
            update_bn_stats(
                unwrap(trainer.model), trainer.precise_bn_loader, cfg.BN.NUM_BATCHES_PRECISE,
                device=trainer.device,
            )
            logger.info("precise BN over %d batches took %.1f s", cfg.BN.NUM_BATCHES_PRECISE,
                        time.perf_counter() - t0)
        aggregate_sub_bn_stats(unwrap(trainer.model))


class CheckpointHook(HookBase):
    """Writes ``OUTPUT_DIR/checkpoints/checkpoint_epoch_NNNNN.pyth`` on checkpoint epochs."""

    def __init__(self, schedule=None):
        self.schedule = schedule

    def after_epoch(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        if not _is_checkpoint(trainer, self.schedule):
            return
        save_checkpoint(
            trainer.cfg.OUTPUT_DIR,
            unwrap(trainer.model),
            trainer.optimizer,
            trainer.epoch,
            trainer.cfg,
            scaler=trainer.scaler if trainer.amp_enabled else None,
            extra=trainer.checkpoint_extra(),
        )


class EvalHook(HookBase):
    """Validates on the "val" split on evaluation epochs (clip-level metrics).

    Validation always uses the configured (full) clip shape, also during multigrid phases, so
    the curve compares like with like from the first epoch to the last. Its time is not
    training time.
    """

    training_time = False

    def __init__(self, cfg: CfgNode, schedule=None):
        self.schedule = schedule
        self.loader = None
        self.evaluator = ClipEvaluator(multi_label=bool(cfg.DATA.MULTI_LABEL))

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
        stats.update({f"val_{k}": v for k, v in metrics.items()})


class TensorBoardHook(HookBase):
    """Writes loss, LR, errors, epoch time and the current batch shape as TensorBoard scalars."""

    def __init__(self, cfg: CfgNode):
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
    hooks: list[HookBase] = []
    if schedule is not None:
        hooks.append(MultigridHook(schedule))
    hooks += [PreciseBNHook(schedule), CheckpointHook(schedule), EvalHook(cfg, schedule)]
    if cfg.TENSORBOARD.ENABLE and du.is_master_proc():
        hooks.append(TensorBoardHook(cfg))
    return hooks
