"""The hooks that follow every step: LR schedule, timing, the rank audit, the json_stats records
and the progress bar. :func:`slowfast.engine.hooks.default_hooks` puts them in the order they
need: the LR hook after the multigrid hook (which may switch the phase before a step), the timer
and the rank audit before the metrics writer (which logs the fields they add).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from tqdm import tqdm

from slowfast.engine.train_loop import HookBase, TrainerBase
from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger, log_json_stats
from slowfast.utils.lr_policy import get_lr_at_epoch, set_lr
from slowfast.utils.meters import memory_mb

logger = get_logger(__name__)

# The LR of (epoch, iteration in the epoch, iterations in the epoch).
LRFunction = Callable[[int, int, int], float]


class LRScheduler(HookBase):
    """Sets every step's learning rate from ``lr_fn(epoch, iteration, iterations)``; by default
    the config's policy at ``epoch + iteration / iterations`` (``get_lr_at_epoch``), with
    multigrid the plan's (``MultigridHook.lr_at``). Adds ``lr`` to the records."""

    def __init__(self, lr_fn: LRFunction | None = None):
        self.lr_fn = lr_fn
        self.lr = 0.0

    def _lr(self, trainer: TrainerBase, it: int, iters: int) -> float:
        if self.lr_fn is not None:
            return self.lr_fn(trainer.epoch, it, iters)
        return get_lr_at_epoch(trainer.cfg, trainer.epoch + it / max(iters, 1))

    def before_epoch(self, trainer: TrainerBase) -> None:
        # The epoch record's LR when the epoch runs no iteration.
        self.lr = self._lr(trainer, trainer.epoch_start_iter, len(trainer.train_loader))

    def before_step(self, trainer: TrainerBase) -> None:
        self.lr = self._lr(trainer, trainer.epoch_iter, len(trainer.train_loader))
        set_lr(trainer.optimizer, self.lr)

    def after_step(self, trainer: TrainerBase, stats: dict[str, Any]) -> None:
        stats["lr"] = self.lr

    def after_epoch(self, trainer: TrainerBase, stats: dict[str, Any]) -> None:
        stats["lr"] = self.lr


class IterationTimer(HookBase):
    """Time spent waiting for data and computing, the epoch's time and ETA, reported in the
    step and epoch records (the trainer itself keeps ``train_time_s``)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.t_epoch = time.perf_counter()
        self.data_time = self.compute_time = self.first_batch_s = 0.0

    def before_epoch(self, trainer: TrainerBase) -> None:
        self._reset()

    def after_step(self, trainer: TrainerBase, stats: dict[str, Any]) -> None:
        now = time.perf_counter()
        it, iters = trainer.epoch_iter, len(trainer.train_loader)
        if it == trainer.epoch_start_iter:
            self.first_batch_s = trainer.batch_wait_s
        self.data_time += trainer.batch_wait_s
        self.compute_time += now - trainer.t_batch
        done = (it + 1) / iters
        stats.update(
            elapsed_s=now - trainer.t_start,
            data_time_s=self.data_time / (it + 1),
            compute_time_s=self.compute_time / (it + 1),
            eta_epoch_s=(now - self.t_epoch) * (1 - done) / max(done, 1e-9),
        )

    def after_epoch(self, trainer: TrainerBase, stats: dict[str, Any]) -> None:
        now = time.perf_counter()
        stats.update(
            epoch_time_s=now - self.t_epoch,
            train_time_s=trainer.train_time_s,
            elapsed_s=now - trainer.t_start,
            data_time_s=self.data_time,
            first_batch_s=self.first_batch_s,
        )


class RankAudit(HookBase):
    """With several processes: which training samples each process saw this epoch, and how many
    were seen by more than one (0 when the sampler split the data disjointly), logged and added
    to the epoch record (``rank_samples``, ``distinct_samples``, ``rank_overlap``)."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def before_epoch(self, trainer: TrainerBase) -> None:
        self.seen = []

    def after_step(self, trainer: TrainerBase, stats: dict[str, Any]) -> None:
        if du.get_world_size() > 1:
            self.seen.extend(trainer.batch[2].tolist())

    def after_epoch(self, trainer: TrainerBase, stats: dict[str, Any]) -> None:
        if du.get_world_size() > 1:
            stats.update(rank_overlap(self.seen))

    def state_dict(self) -> dict[str, Any]:
        return {
            "seen": [torch.tensor(p, dtype=torch.long) for p in du.all_gather_objects(self.seen)]
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        rank = du.get_rank()
        if rank < len(state.get("seen", [])):
            self.seen = state["seen"][rank].tolist()


def rank_overlap(seen: list[int]) -> dict[str, int]:
    """The rank audit's numbers for this process's ``seen`` sample indices (collective)."""
    per_rank = du.all_gather_objects(seen)
    distinct = set()
    for part in per_rank:
        distinct.update(part)
    overlap = sum(len(set(part)) for part in per_rank) - len(distinct)
    logger.info(
        "data split over %d processes: %s samples; %d distinct; samples seen by 2+ processes: %d",
        len(per_rank),
        "+".join(str(len(p)) for p in per_rank),
        len(distinct),
        overlap,
    )
    return {"rank_samples": len(seen), "distinct_samples": len(distinct), "rank_overlap": overlap}


class MetricsWriter(HookBase):
    """The json_stats records of training (docs/TRAINING.md): ``train_iter`` every ``period``
    steps and at an epoch's last step, ``train_epoch`` after each epoch (running loss and errors
    weighted by batch, bad samples skipped), ``train_done`` at the end.

    Its running totals and skipped samples are mid-epoch state (:meth:`state_dict`).
    """

    def __init__(self, period: int, multi_label: bool = False):
        self.period = max(int(period), 1)
        self.multi_label = multi_label
        self._reset()

    def _reset(self) -> None:
        self.totals: dict[str, Any] = {"loss": 0.0, "top1_err": 0.0, "top5_err": 0.0, "samples": 0}
        self.skipped: list[str] = []

    def before_epoch(self, trainer: TrainerBase) -> None:
        self._reset()

    def after_step(self, trainer: TrainerBase, stats: dict[str, Any]) -> None:
        _, labels, _, meta = trainer.batch
        batch = labels.shape[0]
        self.skipped.extend(meta.get("skipped", []) if isinstance(meta, dict) else [])
        self.totals["loss"] += stats["loss"] * batch
        self.totals["top1_err"] += stats.get("top1_err", 0.0) * batch
        self.totals["top5_err"] += stats.get("top5_err", 0.0) * batch
        self.totals["samples"] += batch
        it, iters = trainer.epoch_iter, len(trainer.train_loader)
        if (it + 1) % self.period == 0 or it + 1 == iters:
            log_json_stats({**stats, "mem_mb": memory_mb()}, logger)

    def after_epoch(self, trainer: TrainerBase, stats: dict[str, Any]) -> None:
        cfg, loader = trainer.cfg, trainer.train_loader
        if len(loader) == 0:
            logger.warning(
                "epoch %d ran no iteration: the training set (%d clips) is smaller than one "
                "batch of the current shape (or, with iteration phases, one iteration's batch "
                "covers more than an epoch); use more data or a smaller TRAIN.BATCH_SIZE",
                trainer.epoch + 1,
                len(loader.dataset),
            )
        n = max(self.totals["samples"], 1)
        bad = [p for part in du.all_gather_objects(self.skipped) for p in part]
        stats.update(
            loss=self.totals["loss"] / n,
            clips_seen=trainer.clips_seen,
            clips_by_shape=dict(trainer.clips_by_shape),
            batch_size=cfg.TRAIN.BATCH_SIZE,
            num_frames=cfg.DATA.NUM_FRAMES,
            crop_size=cfg.DATA.TRAIN_CROP_SIZE,
            bad_samples=len(bad),
            mem_mb=memory_mb(),
        )
        if not self.multi_label:
            stats.update(top1_err=self.totals["top1_err"] / n, top5_err=self.totals["top5_err"] / n)
        if bad:
            logger.warning(
                "epoch %d: %d bad training sample(s) skipped and replaced: %s",
                trainer.epoch + 1,
                len(bad),
                ", ".join(sorted(set(bad))),
            )
        log_json_stats(stats, logger)

    def after_train(self, trainer: TrainerBase) -> None:
        done = {
            "_type": "train_done",
            "epochs": trainer.epoch,
            "train_time_s": trainer.train_time_s,
            "elapsed_s": time.perf_counter() - trainer.t_start,
            "clips_seen": trainer.clips_seen,
            "clips_by_shape": dict(trainer.clips_by_shape),
        }
        log_json_stats(done, logger)
        trainer.results["train_done"] = done

    def state_dict(self) -> dict[str, Any]:
        return {"totals": dict(self.totals), "skipped": du.all_gather_objects(list(self.skipped))}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "totals" in state:
            self.totals = dict(state["totals"])
        rank, skipped = du.get_rank(), state.get("skipped", [])
        self.skipped = list(skipped[rank]) if rank < len(skipped) else []


class ProgressBar(HookBase):
    """A tqdm bar per epoch with the loss and LR, on the master process of a terminal only."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = (sys.stdout.isatty() and du.is_master_proc()) if enabled is None else enabled
        self.bar: tqdm | None = None

    def before_epoch(self, trainer: TrainerBase) -> None:
        if self.enabled:
            self.bar = tqdm(
                total=len(trainer.train_loader),
                initial=trainer.epoch_start_iter,
                desc=f"epoch {trainer.epoch + 1}/{trainer.max_epoch}",
                leave=False,
            )

    def after_step(self, trainer: TrainerBase, stats: dict[str, Any]) -> None:
        if self.bar is None:
            return
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{stats['loss']:.3f}", lr=f"{stats.get('lr', 0.0):.3g}")
        if trainer.stop_requested:
            self._close()

    def after_epoch(self, trainer: TrainerBase, stats: dict[str, Any]) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
