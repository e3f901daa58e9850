"""The multigrid hook: the training loop driven by the multigrid schedule placed at iterations
(loaders, phase switches of the config and the norm layers, the plan's LR)."""

from __future__ import annotations

import time

from slowfast.datasets.build import build_dataset
from slowfast.engine.train_loop import HookBase
from slowfast.engine.trainer import Trainer
from slowfast.models.norm import convert_norm
from slowfast.multigrid.cfg_rewrite import apply_phase
from slowfast.multigrid.plan import IterationPlan, PhaseSpan
from slowfast.multigrid.sampler import epoch_loader, precise_bn_loader
from slowfast.multigrid.schedule import Schedule
from slowfast.utils.distributed import unwrap
from slowfast.utils.logging import get_logger, log_json_stats

logger = get_logger(__name__)


class MultigridHook(HookBase):
    """Drives training by the multigrid schedule, placed at iterations for the training set.

    The training dataset is built once. Each epoch's loader takes its batch sizes and clip shapes
    (long and short cycles) from the :class:`~slowfast.multigrid.plan.IterationPlan`, the LR of
    every iteration comes from the plan, and when an iteration starts a new phase the config is
    rewritten for it (PySlowFast's keys), the BN modules are switched in place and the precise-BN
    loader follows the phase's shape. The LR of every iteration comes from the plan
    (:meth:`lr_at`, given to :class:`~slowfast.engine.step_hooks.LRScheduler`).
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
            plan.num_videos,
            self.schedule.unit,
            plan.num_iters,
            plan.num_epochs,
            [sp.start_iter for sp in plan.spans],
            f"over {plan.warmup_iters} iterations"
            if plan.warmup_iters is not None
            else f"over {trainer.cfg.SOLVER.WARMUP_EPOCHS:g} epochs",
            time.perf_counter() - t0,
        )
        self._start_epoch(trainer, trainer.start_epoch)

    def lr_at(self, epoch: int, it: int, iters: int) -> float:
        """The plan's LR at iteration ``it`` of ``epoch`` (the LR hook's schedule)."""
        return self.plan.lr_at(self.plan.epoch_starts[epoch] + it)

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
            trainer.iter,
            trainer.epoch + 1,
            phase.index,
            phase.kind,
            span.num_iters,
            phase.num_frames,
            short,
            cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE or cfg.DATA.SAMPLING_RATE,
            cfg.BN.NORM_TYPE,
            cfg.BN.NUM_SPLITS,
            cfg.BN.NUM_SYNC_DEVICES,
            t_switch,
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
