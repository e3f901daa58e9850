"""The trainer of one process: model, optimizer and loaders built from the config, and the
step (:meth:`Trainer.run_step`: batch to the device, forward, loss, backward, optimizer step).
Mixed precision is the :class:`AMPTrainer` variant; :func:`build_trainer` picks the one the
config asks for. Every other feature is a hook (:mod:`slowfast.engine.hooks`,
:func:`~slowfast.engine.hooks.default_hooks`).

Preemption: while :meth:`Trainer.train` runs, SIGTERM and SIGUSR1 only set a flag
(:mod:`slowfast.utils.preemption`). Every process learns of it in the step's all-reduce, so all
stop after the same step; the master writes a mid-epoch checkpoint (model, optimizer, scaler,
RNG, counters, the hooks' mid-epoch state and the loader position) and :class:`Preempted` is
raised. A run started again resumes at the next iteration with the same batches.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from typing import Any

import torch
from fvcore.common.config import CfgNode

from slowfast.checkpoint import (
    RNGState,
    StateFunctions,
    get_last_checkpoint,
    get_path_to_checkpoint,
)
from slowfast.checkpoint.startup import build_checkpointer, resume_or_load
from slowfast.datasets.loader import construct_loader, shuffle_dataset, start_at
from slowfast.engine.losses import get_loss_func
from slowfast.engine.train_loop import HookBase, TrainerBase, TrainingError, move_to_device
from slowfast.models import build_model, place_model
from slowfast.utils import distributed as du
from slowfast.utils import precision
from slowfast.utils.distributed import unwrap
from slowfast.utils.logging import get_logger, log_json_stats
from slowfast.utils.metrics import topk_errors
from slowfast.utils.optimizer import clip_gradients, construct_optimizer
from slowfast.utils.preemption import Preempted, PreemptionWatcher

__all__ = ["AMPTrainer", "HookBase", "Trainer", "TrainingError", "build_trainer", "move_to_device"]

logger = get_logger(__name__)


class Trainer(TrainerBase):
    """Owns model, optimizer and loaders for one process and trains in float32.

    ``hooks`` are all the features of the run, in order (:func:`slowfast.engine.hooks.
    default_hooks` gives those of ``tools/run_net.py``); without them the loop trains at the
    optimizer's initial LR and reports nothing.
    """

    def __init__(self, cfg: CfgNode, hooks: list[HookBase] | None = None):
        super().__init__(hooks)
        # The config as given; ``cfg`` is the one in force (hooks may rewrite it per phase).
        self.base_cfg = cfg.clone()
        self.cfg = cfg.clone()
        self.device = du.get_device(cfg)
        self.memory_format = precision.model_memory_format(cfg, self.device)
        self.amp_dtype = self.autocast_dtype(cfg)
        logger.info(precision.describe(self.amp_dtype, self.memory_format, cfg))
        self.model = build_model(self.cfg)
        place_model(self.model, self.device, memory_format=self.memory_format)
        self.optimizer = construct_optimizer(self.model, self.cfg)
        # amp_enabled: a gradient scaler is in use (and saved in checkpoints).
        self.amp_enabled = precision.needs_grad_scaler(self.amp_dtype)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_enabled)
        self.loss_fn = get_loss_func(cfg.MODEL.LOSS_FUNC)
        # The mid-epoch state of a resumed run: loader position and the hooks' state.
        self._partial_epoch: dict[str, Any] | None = None
        self.preemption = PreemptionWatcher()
        self.precise_bn_loader = None
        self.clips_seen = 0
        # Clips trained on at each "frames x crop" input shape (for compute accounting).
        self.clips_by_shape: Counter[str] = Counter()
        self.wrap_ddp()

    def autocast_dtype(self, cfg: CfgNode) -> torch.dtype | None:
        """The forward's autocast dtype: None here; TRAIN.MIXED_PRECISION needs
        :class:`AMPTrainer` (see :func:`build_trainer`)."""
        if precision.train_autocast_dtype(cfg, self.device) is not None:
            raise ValueError(
                "TRAIN.MIXED_PRECISION is set: train with AMPTrainer (build_trainer(cfg, hooks) "
                "picks the trainer the config asks for)"
            )
        return None

    @property
    def max_epoch(self) -> int:
        return int(self.cfg.SOLVER.MAX_EPOCH)

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
        saves the model with the optimizer, scaler, RNG and these counters (the hooks' mid-epoch
        state goes into the preemption checkpoint, see :meth:`stop`).
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
        # Hooks are not checkpointables: their state_dict is the mid-epoch state, gathered on
        # every process (collectives) by the stop; the master alone writes epoch checkpoints.
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

    # -- the loop -----------------------------------------------------------------------------
    def train(self) -> dict[str, Any]:
        """Resume (or initialise) and run every epoch up to SOLVER.MAX_EPOCH with the hooks.

        Returns :attr:`results`: ``train`` (the last ``train_epoch`` record), ``epochs``,
        ``train_done``, ``val_last`` / ``val_best`` (with validation), ``output_dir``,
        ``last_checkpoint`` and ``log_file``. Raises :class:`Preempted` after writing a
        checkpoint when SIGTERM or SIGUSR1 came.
        """
        with self.preemption:
            results = super().train()
        if self.preemption.requested:
            # Came after the last step: training is complete and its checkpoint written.
            raise Preempted(
                f"{self.preemption.received.name} received after the last training step; "
                "training is complete, run the same command again to continue"
            )
        return results

    def before_train(self) -> None:
        self.resume_or_load()
        super().before_train()
        if self.train_loader is None:
            t0 = time.perf_counter()
            self.build_train_loaders()
            self.train_time_s += time.perf_counter() - t0
        logger.info("Start epoch: %d", self.start_epoch + 1)

    def after_train(self) -> None:
        super().after_train()
        out = self.cfg.OUTPUT_DIR
        log_file = os.path.join(out, "stdout.log")
        self.results.update(
            output_dir=out,
            last_checkpoint=get_last_checkpoint(out) if du.is_master_proc() else None,
            log_file=log_file if os.path.isfile(log_file) else None,
        )

    def resume_iter(self) -> int:
        partial = self._partial_epoch
        if partial is not None and int(partial["epoch"]) == self.epoch:
            return int(partial["iter"])
        return 0

    def begin_epoch(self) -> None:
        """Seed the epoch's order; after a mid-epoch stop, skip the batches already done and give
        the hooks their saved state."""
        shuffle_dataset(self.train_loader, self.epoch)
        self.model.train()
        if not self.epoch_start_iter:
            return
        partial, self._partial_epoch = self._partial_epoch, None
        start, world = self.epoch_start_iter, du.get_world_size()
        start_at(self.train_loader, start)
        writers = partial.get("skipped")  # per process; kept by the MetricsWriter, if any
        if writers is not None and len(writers) != world:
            logger.warning(
                "the mid-epoch checkpoint was written by %d process(es), this run has %d: "
                "the rest of epoch %d is split for %d, so it is not the exact continuation",
                len(writers),
                world,
                self.epoch + 1,
                world,
            )
        self.load_hook_state(partial)
        logger.info(
            "Continuing epoch %d at iteration %d of %d",
            self.epoch + 1,
            start + 1,
            len(self.train_loader),
        )

    def run_step(self, batch: Any) -> dict[str, Any]:
        """Batch to the device, forward, loss, backward, the loss (and preemption flag) averaged
        over processes and checked, clipping, optimizer step; returns the record's fields."""
        inputs, labels, _, _ = batch
        inputs = precision.to_memory_format(move_to_device(inputs, self.device), self.memory_format)
        labels = labels.to(self.device, non_blocking=True)
        preds = self.forward(inputs).float()
        loss = self.loss_fn(preds, labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.backward(loss)
        loss_f, errs = self.reduce(loss.detach(), preds.detach(), labels)
        # Checked on the loss averaged over processes, so that every rank stops together.
        if not math.isfinite(loss_f):
            raise TrainingError(
                f"non-finite loss ({loss_f}) at epoch {self.epoch + 1}, iteration "
                f"{self.epoch_iter + 1}/{len(self.train_loader)}; lower SOLVER.BASE_LR or check "
                "the data"
            )
        self.step_optimizer()
        batch_size = labels.shape[0] * du.get_world_size()
        self.clips_seen += batch_size
        self.clips_by_shape[_frames_x_crop(inputs)] += batch_size
        out = {"loss": loss_f, "batch_size": batch_size, "shape": _shape_of(inputs)}
        if errs is not None:
            out.update(top1_err=errs[0], top5_err=errs[1])
        return out

    def forward(self, inputs: Any) -> torch.Tensor:
        """The model's predictions for a training batch."""
        return self.model(inputs)

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def step_optimizer(self) -> None:
        """Clip the gradients (SOLVER.CLIP_GRAD_*) and update the weights."""
        clip_gradients(unwrap(self.model), self.cfg)
        self.optimizer.step()

    def reduce(
        self, loss: torch.Tensor, preds: torch.Tensor, labels: torch.Tensor
    ) -> tuple[float, tuple[float, float] | None]:
        """(loss, (top-1, top-5 error) or None for multi-label data), averaged over processes
        in one all-reduce that also carries this process's preemption flag: after it
        ``stop_requested`` says whether any process was asked to stop."""
        multi_label = bool(self.cfg.DATA.MULTI_LABEL)
        if multi_label:
            errs = [torch.zeros((), device=self.device)] * 2
        else:
            errs = topk_errors(preds, labels, (1, min(5, preds.shape[1])))
        stop = torch.tensor(float(self.preemption.requested), device=self.device)
        if du.get_world_size() > 1:  # one collective for the four numbers
            packed = torch.stack([loss.float(), *(e.float() for e in errs), stop])
            loss, *errs, stop = du.all_reduce_mean([packed])[0].unbind()
        loss_f = loss.item()
        self.stop_requested = float(stop) > 0
        return loss_f, None if multi_label else (float(errs[0]), float(errs[1]))

    def stop(self, done: int, iters: int) -> None:
        """Write the mid-epoch checkpoint after ``done`` iterations and raise :class:`Preempted`.

        Every process takes part (the hooks' state is gathered), and none returns before the
        master's file is in place.
        """
        resume = self.hook_state()  # collective: every process takes part
        self.checkpointer.save_epoch(self.epoch, iteration=done, resume=resume, cfg=self.cfg.dump())
        du.synchronize()
        path = get_path_to_checkpoint(self.cfg.OUTPUT_DIR, self.epoch + 1, iteration=done)
        log_json_stats(
            {
                "_type": "preempted",
                "epoch": self.epoch + 1,
                "iter": done,
                "iters": iters,
                "signal": self.preemption.received.name if self.preemption.requested else "peer",
                "checkpoint": path,
                "elapsed_s": time.perf_counter() - self.t_start,
            },
            logger,
        )
        raise Preempted(
            f"preempted at epoch {self.epoch + 1}, iteration {done}/{iters}: checkpoint {path} "
            "written; run the same command again to resume from it"
        )


class AMPTrainer(Trainer):
    """Mixed precision (TRAIN.MIXED_PRECISION): the forward under autocast, float16 with a
    gradient scaler on CUDA, bfloat16 without one on the CPU (slowfast.utils.precision);
    weights, optimizer state and the loss stay float32."""

    def autocast_dtype(self, cfg: CfgNode) -> torch.dtype | None:
        return precision.train_autocast_dtype(cfg, self.device)

    def forward(self, inputs: Any) -> torch.Tensor:
        with precision.autocast(self.device, self.amp_dtype):
            return self.model(inputs)

    def backward(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss).backward()

    def step_optimizer(self) -> None:
        # Unscaled first, so that the clipping thresholds apply to the true gradients.
        self.scaler.unscale_(self.optimizer)
        clip_gradients(unwrap(self.model), self.cfg)
        self.scaler.step(self.optimizer)
        self.scaler.update()


def build_trainer(cfg: CfgNode, hooks: list[HookBase] | None = None) -> Trainer:
    """:class:`AMPTrainer` when TRAIN.MIXED_PRECISION applies on this process's device, else
    :class:`Trainer`."""
    mixed = precision.train_autocast_dtype(cfg, du.get_device(cfg)) is not None
    return (AMPTrainer if mixed else Trainer)(cfg, hooks)


def _shape_of(inputs: Any) -> str:
    """'BxTxS' of the last pathway (the full-rate one) for logs and TensorBoard."""
    x = inputs[-1] if isinstance(inputs, (list, tuple)) else inputs
    return f"{x.shape[0]}x{x.shape[2]}x{x.shape[3]}"


def _frames_x_crop(inputs: Any) -> str:
    """'TxS' of the full-rate pathway: the per-clip input shape."""
    x = inputs[-1] if isinstance(inputs, (list, tuple)) else inputs
    return f"{x.shape[2]}x{x.shape[3]}"
