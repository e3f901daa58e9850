"""The training loop: steps only; evaluation, checkpoints, precise BN, multigrid and logging are
hooks (see :mod:`slowfast.engine.hooks`).

A hook sees the trainer and may replace its loaders or its config between epochs, or switch the
phase before a step (the multigrid hook does both).

Preemption: while :meth:`Trainer.train` runs, SIGTERM and SIGUSR1 only set a flag
(:mod:`slowfast.utils.preemption`). Every process learns of it in the step's all-reduce, so all
stop after the same step; the master writes a mid-epoch checkpoint (model, optimizer, scaler,
RNG, counters, the epoch's running totals and the loader position) and :class:`Preempted` is
raised. A run started again resumes at the next iteration with the same batches.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from typing import Any

import torch
from fvcore.common.config import CfgNode

from slowfast.checkpoint import RNGState, StateFunctions, get_path_to_checkpoint, save_checkpoint
from slowfast.checkpoint.startup import build_checkpointer, resume_or_load
from slowfast.datasets.loader import construct_loader, shuffle_dataset, start_at
from slowfast.engine.losses import get_loss_func
from slowfast.models import build_model, place_model
from slowfast.utils import distributed as du
from slowfast.utils import precision
from slowfast.utils.distributed import unwrap
from slowfast.utils.logging import get_logger, log_json_stats
from slowfast.utils.lr_policy import get_lr_at_epoch, set_lr
from slowfast.utils.meters import memory_mb
from slowfast.utils.metrics import topk_errors
from slowfast.utils.optimizer import clip_gradients, construct_optimizer
from slowfast.utils.preemption import Preempted, PreemptionWatcher

logger = get_logger(__name__)


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a non-finite loss); the message names epoch and iteration."""


class HookBase:
    """Called by :class:`Trainer` around training, epochs and steps; override what you need.

    Time spent in a hook's ``before_epoch``/``after_epoch`` counts as training time (the
    trainer's ``train_time_s``) unless the hook sets ``training_time = False`` (evaluation).
    """

    training_time = True

    def before_train(self, trainer: Trainer) -> None:
        pass

    def before_epoch(self, trainer: Trainer) -> None:
        pass

    def before_step(self, trainer: Trainer) -> None:
        """Before iteration ``trainer.iter`` (global), once its batch is loaded."""
        pass

    def after_step(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        pass

    def after_epoch(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        pass

    def after_train(self, trainer: Trainer) -> None:
        pass


def move_to_device(inputs: Any, device: torch.device) -> Any:
    """Move a tensor, or a (nested) list of tensors, to ``device``."""
    if isinstance(inputs, (list, tuple)):
        return [move_to_device(x, device) for x in inputs]
    return inputs.to(device, non_blocking=True)


class Trainer:
    """Owns model, optimizer, loaders and the epoch loop for one process."""

    def __init__(self, cfg: CfgNode, hooks: list[HookBase] | None = None):
        # The config as given; ``cfg`` is the one in force (hooks may rewrite it per phase).
        self.base_cfg = cfg.clone()
        self.cfg = cfg.clone()
        self.device = du.get_device(cfg)
        # Mixed precision: float16 + gradient scaler on CUDA, bfloat16 on the CPU (see
        # slowfast.utils.precision); MODEL.CHANNELS_LAST lays out weights and clips NTHWC.
        self.amp_dtype = precision.train_autocast_dtype(cfg, self.device)
        self.memory_format = precision.model_memory_format(cfg, self.device)
        logger.info(precision.describe(self.amp_dtype, self.memory_format, cfg))
        self.model = build_model(self.cfg)
        place_model(self.model, self.device, memory_format=self.memory_format)
        self.optimizer = construct_optimizer(self.model, self.cfg)
        # amp_enabled: a gradient scaler is in use (and saved in checkpoints).
        self.amp_enabled = precision.needs_grad_scaler(self.amp_dtype)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_enabled)
        self.loss_fn = get_loss_func(cfg.MODEL.LOSS_FUNC)
        self.hooks: list[HookBase] = list(hooks or [])
        self.start_epoch = 0
        # Iterations of start_epoch done before a mid-epoch resume, and that epoch's totals.
        self.start_iter = 0
        self._partial_epoch: dict[str, Any] | None = None
        self.preemption = PreemptionWatcher()
        self.epoch = 0
        # Global iteration; a hook that places the schedule (multigrid) sets it at each epoch.
        self.iter = 0
        self.batch_wait_s = 0.0  # seconds the current step waited for its batch
        # The LR of (epoch, iteration in the epoch, iterations in the epoch); multigrid's hook
        # replaces it with its plan's.
        self.lr_fn = self._epoch_lr
        self.train_loader = None
        self.precise_bn_loader = None
        self.clips_seen = 0
        # Clips trained on at each "frames x crop" input shape (for compute accounting).
        self.clips_by_shape: Counter[str] = Counter()
        self.train_time_s = 0.0
        self.t_start = time.perf_counter()
        self.show_progress = sys.stdout.isatty() and du.is_master_proc()
        self.wrap_ddp()

    # -- set-up -------------------------------------------------------------------------------
    def wrap_ddp(self) -> None:
        """(Re)wrap the model in DistributedDataParallel when more than one process runs."""
        model = unwrap(self.model)
        if du.get_world_size() > 1:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=device_ids, output_device=device_ids[0] if device_ids else None
            )
        else:
            self.model = model

    def build_train_loaders(self) -> None:
        """Build the training loader (and the precise-BN loader) for the current config."""
        self.train_loader = construct_loader(self.cfg, "train")
        if self.cfg.BN.USE_PRECISE_STATS:
            self.precise_bn_loader = construct_loader(self.cfg, "train", is_precise_bn=True)

    def resume_or_load(self) -> None:
        """Continue from the newest checkpoint (with its counters, clocks and RNG), or initialise
        from TRAIN.CHECKPOINT_FILE_PATH, or start from scratch; sets ``self.checkpointer``, which
        saves the model with the optimizer, scaler, RNG, these counters and every hook that has
        ``state_dict`` / ``load_state_dict``.
        """

        def restore(extra: dict[str, Any]) -> None:
            self.iter = int(extra.get("iter", 0))
            resume = extra.get("resume")
            if resume and int(resume["iter"]):
                self._partial_epoch = dict(resume)
            self.clips_seen = int(extra.get("clips_seen", 0))
            self.clips_by_shape = Counter(extra.get("clips_by_shape", {}))
            self.train_time_s = float(extra.get("train_time_s", 0.0))
            self.t_start = time.perf_counter() - float(extra.get("elapsed_s", 0.0))

        checkpointables: dict[str, Any] = {"optimizer": self.optimizer, "rng": RNGState()}
        if self.amp_enabled:
            checkpointables["scaler"] = self.scaler
        checkpointables["trainer"] = StateFunctions(self.checkpoint_extra, restore, "extra")
        for hook in self.hooks:
            if hasattr(hook, "state_dict") and hasattr(hook, "load_state_dict"):
                checkpointables[f"hook_{type(hook).__name__}"] = hook
        self.checkpointer = build_checkpointer(self.cfg, self.model, **checkpointables)
        self.start_epoch, self.start_iter = resume_or_load(self.cfg, self.checkpointer)

    def checkpoint_extra(self) -> dict[str, Any]:
        """Progress counters saved with each checkpoint (as ``extra``) so that a resumed run
        continues its clocks."""
        return {
            "iter": self.iter,
            "clips_seen": self.clips_seen,
            "clips_by_shape": dict(self.clips_by_shape),
            "train_time_s": self.train_time_s,
            "elapsed_s": time.perf_counter() - self.t_start,
        }

    def _epoch_lr(self, epoch: int, it: int, iters: int) -> float:
        return get_lr_at_epoch(self.cfg, epoch + it / max(iters, 1))

    # -- the loop -----------------------------------------------------------------------------
    def train(self) -> None:
        """Run every epoch from ``start_epoch`` to SOLVER.MAX_EPOCH with the hooks.

        Raises :class:`Preempted` after writing a checkpoint when SIGTERM or SIGUSR1 came.
        """
        with self.preemption:
            self._train()
        if self.preemption.requested:
            # Came after the last step: training is complete and its checkpoint written.
            raise Preempted(
                f"{self.preemption.received.name} received after the last training step; "
                "training is complete, run the same command again to continue"
            )

    def _train(self) -> None:
        self.resume_or_load()
        for h in self.hooks:
            self._timed(h, h.before_train)
        if self.train_loader is None:
            t0 = time.perf_counter()
            self.build_train_loaders()
            self.train_time_s += time.perf_counter() - t0
        logger.info("Start epoch: %d", self.start_epoch + 1)
        self.epoch = self.start_epoch
        while self.epoch < self.cfg.SOLVER.MAX_EPOCH:
            for h in self.hooks:
                self._timed(h, h.before_epoch)
            stats = self.run_epoch()
            for h in self.hooks:
                self._timed(h, h.after_epoch, stats)
            self.epoch += 1
        log_json_stats(
            {
                "_type": "train_done",
                "epochs": self.epoch,
                "train_time_s": self.train_time_s,
                "elapsed_s": time.perf_counter() - self.t_start,
                "clips_seen": self.clips_seen,
                "clips_by_shape": dict(self.clips_by_shape),
            },
            logger,
        )
        for h in self.hooks:
            h.after_train(self)

    def _timed(self, hook: HookBase, method, *args: Any) -> None:
        t0 = time.perf_counter()
        method(self, *args)
        if hook.training_time:
            self.train_time_s += time.perf_counter() - t0

    def run_epoch(self) -> dict[str, Any]:
        """One pass over the training loader; returns the epoch summary (also logged)."""
        cfg, model, loader = self.cfg, self.model, self.train_loader
        shuffle_dataset(loader, self.epoch)
        model.train()
        iters = len(loader)
        max_epoch = cfg.SOLVER.MAX_EPOCH
        world = du.get_world_size()
        multi_label = bool(cfg.DATA.MULTI_LABEL)
        totals = {"loss": 0.0, "top1_err": 0.0, "top5_err": 0.0, "samples": 0}
        skipped: list[str] = []
        seen: list[int] = []
        start = 0
        partial = self._partial_epoch
        if partial is not None and int(partial["epoch"]) == self.epoch:
            # Resuming inside this epoch: continue its totals, skip the batches already done.
            self._partial_epoch = None
            start = int(partial["iter"])
            start_at(loader, start)
            totals = dict(partial["totals"])
            rank = du.get_rank()
            if len(partial["skipped"]) != world:
                logger.warning(
                    "the mid-epoch checkpoint was written by %d process(es), this run has %d: "
                    "the rest of epoch %d is split for %d, so it is not the exact continuation",
                    len(partial["skipped"]), world, self.epoch + 1, world,
                )
            skipped = list(partial["skipped"][rank]) if rank < len(partial["skipped"]) else []
            if rank < len(partial["seen"]):
                seen = partial["seen"][rank].tolist()
            logger.info("Continuing epoch %d at iteration %d of %d", self.epoch + 1, start + 1,
                        iters)
        t_epoch = time.perf_counter()
        t_data = time.perf_counter()
        data_time = compute_time = 0.0
        progress = None
        if self.show_progress:
            from tqdm import tqdm

            progress = tqdm(total=iters, initial=start, desc=f"epoch {self.epoch + 1}/{max_epoch}",
                            leave=False)
        first_batch_s = 0.0
        lr = self.lr_fn(self.epoch, start, iters)
        for it, (inputs, labels, index, meta) in enumerate(loader, start=start):
            t_compute = time.perf_counter()
            data_time += t_compute - t_data
            if it == start:
                first_batch_s = t_compute - t_data
            self.batch_wait_s = t_compute - t_data  # how long this step waited for its batch
            for h in self.hooks:
                h.before_step(self)
            if world > 1:
                seen.extend(index.tolist())
            skipped.extend(meta.get("skipped", []) if isinstance(meta, dict) else [])
            inputs = precision.to_memory_format(move_to_device(inputs, self.device), self.memory_format)
            labels = labels.to(self.device, non_blocking=True)
            cfg, model = self.cfg, self.model  # a hook may have switched the phase
            lr = self.lr_fn(self.epoch, it, iters)
            set_lr(self.optimizer, lr)
            with precision.autocast(self.device, self.amp_dtype):
                preds = model(inputs)
            preds = preds.float()
            loss = self.loss_fn(preds, labels)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            loss_v = loss.detach()
            if multi_label:
                errs = [torch.zeros((), device=self.device)] * 2
            else:
                errs = topk_errors(preds.detach(), labels, (1, min(5, preds.shape[1])))
            # Whether to stop after this step, agreed by all processes in the same all-reduce.
            stop = torch.tensor(float(self.preemption.requested), device=self.device)
            if world > 1:  # one collective for the four numbers
                packed = torch.stack([loss_v.float(), *(e.float() for e in errs), stop])
                loss_v, *errs, stop = du.all_reduce_mean([packed])[0].unbind()
            loss_f = loss_v.item()
            # Checked on the loss averaged over processes, so that every rank stops together.
            if not math.isfinite(loss_f):
                raise TrainingError(
                    f"non-finite loss ({loss_f}) at epoch {self.epoch + 1}, "
                    f"iteration {it + 1}/{iters}; lower SOLVER.BASE_LR or check the data"
                )
            self.scaler.unscale_(self.optimizer)
            clip_gradients(unwrap(model), cfg)
            self.scaler.step(self.optimizer)
            self.scaler.update()

            batch = labels.shape[0]
            top1, top5 = (float(e) for e in errs)
            totals["loss"] += loss_f * batch
            totals["top1_err"] += top1 * batch
            totals["top5_err"] += top5 * batch
            totals["samples"] += batch
            self.clips_seen += batch * world
            self.clips_by_shape[_frames_x_crop(inputs)] += batch * world
            self.iter += 1
            compute_time += time.perf_counter() - t_compute
            step = {
                "_type": "train_iter",
                "epoch": self.epoch + 1,
                "max_epoch": max_epoch,
                "iter": it + 1,
                "iters": iters,
                "loss": loss_f,
                "lr": lr,
                "batch_size": batch * world,
                "shape": _shape_of(inputs),
                "elapsed_s": time.perf_counter() - self.t_start,
            }
            if not multi_label:
                step.update(top1_err=top1, top5_err=top5)
            if (it + 1) % cfg.LOG_PERIOD == 0 or it + 1 == iters:
                done = (it + 1) / iters
                epoch_elapsed = time.perf_counter() - t_epoch
                remaining_epoch = epoch_elapsed * (1 - done) / max(done, 1e-9)
                step.update(
                    data_time_s=data_time / (it + 1),
                    compute_time_s=compute_time / (it + 1),
                    eta_epoch_s=remaining_epoch,
                    mem_mb=memory_mb(),
                )
                log_json_stats(step, logger)
            for h in self.hooks:
                h.after_step(self, step)
            if progress is not None:
                progress.update(1)
                progress.set_postfix(loss=f"{loss_f:.3f}", lr=f"{lr:.3g}")
            if float(stop) > 0:
                if progress is not None:
                    progress.close()
                self.train_time_s += time.perf_counter() - t_epoch
                self._preempt(it + 1, iters, totals, skipped, seen)
            t_data = time.perf_counter()
        if progress is not None:
            progress.close()
        if iters == 0:
            logger.warning(
                "epoch %d ran no iteration: the training set (%d clips) is smaller than one "
                "batch of the current shape (or, with iteration phases, one iteration's batch "
                "covers more than an epoch); use more data or a smaller TRAIN.BATCH_SIZE",
                self.epoch + 1, len(loader.dataset),
            )
        epoch_time = time.perf_counter() - t_epoch
        self.train_time_s += epoch_time
        n = max(totals["samples"], 1)
        bad = _gather_skipped(skipped)
        summary: dict[str, Any] = {
            "_type": "train_epoch",
            "epoch": self.epoch + 1,
            "max_epoch": max_epoch,
            "loss": totals["loss"] / n,
            "lr": lr,
            "epoch_time_s": epoch_time,
            "train_time_s": self.train_time_s,
            "elapsed_s": time.perf_counter() - self.t_start,
            "clips_seen": self.clips_seen,
            "clips_by_shape": dict(self.clips_by_shape),
            "iters": iters,
            "batch_size": self.cfg.TRAIN.BATCH_SIZE,
            "num_frames": self.cfg.DATA.NUM_FRAMES,
            "crop_size": self.cfg.DATA.TRAIN_CROP_SIZE,
            "bad_samples": len(bad),
            "data_time_s": data_time,
            "first_batch_s": first_batch_s,
            "mem_mb": memory_mb(),
        }
        if not multi_label:
            summary.update(top1_err=totals["top1_err"] / n, top5_err=totals["top5_err"] / n)
        if world > 1:
            summary.update(_rank_overlap(seen))
        if bad:
            logger.warning(
                "epoch %d: %d bad training sample(s) skipped and replaced: %s",
                self.epoch + 1, len(bad), ", ".join(sorted(set(bad))),
            )
        log_json_stats(summary, logger)
        return summary


    def _preempt(
        self, done: int, iters: int, totals: dict[str, Any], skipped: list[str], seen: list[int]
    ) -> None:
        """Write the mid-epoch checkpoint after ``done`` iterations and raise :class:`Preempted`.

        Every process takes part (the per-process lists are gathered), and none returns before
        the master's file is in place.
        """
        resume = {
            "totals": dict(totals),
            "skipped": du.all_gather_objects(list(skipped)),
            "seen": [torch.tensor(p, dtype=torch.long) for p in du.all_gather_objects(seen)],
        }
        extra = self.checkpoint_extra()
        extra["resume"] = resume
        save_checkpoint(
            self.cfg.OUTPUT_DIR, unwrap(self.model), self.optimizer, self.epoch, self.cfg,
            scaler=self.scaler if self.amp_enabled else None, extra=extra, iteration=done,
        )
        du.synchronize()
        path = get_path_to_checkpoint(self.cfg.OUTPUT_DIR, self.epoch + 1, iteration=done)
        log_json_stats(
            {"_type": "preempted", "epoch": self.epoch + 1, "iter": done, "iters": iters,
             "signal": self.preemption.received.name if self.preemption.requested else "peer",
             "checkpoint": path, "elapsed_s": time.perf_counter() - self.t_start},
            logger,
        )
        raise Preempted(
            f"preempted at epoch {self.epoch + 1}, iteration {done}/{iters}: checkpoint {path} "
            "written; run the same command again to resume from it"
        )


def _shape_of(inputs: Any) -> str:
    """'BxTxS' of the last pathway (the full-rate one) for logs and TensorBoard."""
    x = inputs[-1] if isinstance(inputs, (list, tuple)) else inputs
    return f"{x.shape[0]}x{x.shape[2]}x{x.shape[3]}"


def _frames_x_crop(inputs: Any) -> str:
    """'TxS' of the full-rate pathway: the per-clip input shape."""
    x = inputs[-1] if isinstance(inputs, (list, tuple)) else inputs
    return f"{x.shape[2]}x{x.shape[3]}"


def _rank_overlap(seen: list[int]) -> dict[str, int]:
    """How many training samples this epoch were seen by more than one process (0 when the
    sampler split the data disjointly), logged so multi-process runs can be checked.
    """
    per_rank = du.all_gather_objects(seen)
    distinct = set()
    for part in per_rank:
        distinct.update(part)
    overlap = sum(len(set(part)) for part in per_rank) - len(distinct)
    logger.info(
        "data split over %d processes: %s samples; %d distinct; samples seen by 2+ processes: %d",
        len(per_rank), "+".join(str(len(p)) for p in per_rank), len(distinct), overlap,
    )
    return {"rank_samples": len(seen), "distinct_samples": len(distinct), "rank_overlap": overlap}


def _gather_skipped(paths: list[str]) -> list[str]:
    if du.get_world_size() == 1:
        return paths
    merged: list[str] = []
    for part in du.all_gather_objects(paths):
        merged.extend(part)
    return merged
