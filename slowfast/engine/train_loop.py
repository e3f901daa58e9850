"""The training loop without its features: :class:`TrainerBase` runs epochs of steps and calls
the hooks (:class:`HookBase`) around training, each epoch and each step.

Everything a run reports or changes besides the step itself (LR, records, progress, timing,
precise BN, evaluation, checkpoints, multigrid) is a hook; a subclass supplies the loader and
:meth:`TrainerBase.run_step` (see :class:`slowfast.engine.trainer.Trainer`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from slowfast.utils.logging import get_logger

logger = get_logger(__name__)


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a non-finite loss); the message names epoch and iteration."""


class HookBase:
    """Called by the trainer around training, epochs and steps; override what you need.

    ``stats`` is the record being built for the step (``train_iter``) or the epoch
    (``train_epoch``): a hook may add to it, and hooks later in the list see the additions.
    Time spent in a hook's ``before_epoch``/``after_epoch`` counts as training time (the
    trainer's ``train_time_s``) unless the hook sets ``training_time = False`` (evaluation).

    A hook whose state must survive a mid-epoch stop (preemption) returns it from
    :meth:`state_dict`; the state is saved in the mid-epoch checkpoint and handed back through
    :meth:`load_state_dict` when the interrupted epoch continues. Every process calls
    ``state_dict`` at the same point, so it may use collectives.
    """

    training_time = True

    def before_train(self, trainer: TrainerBase) -> None:
        pass

    def before_epoch(self, trainer: TrainerBase) -> None:
        pass

    def before_step(self, trainer: TrainerBase) -> None:
        """Before iteration ``trainer.iter`` (global), once its batch (``trainer.batch``) is
        loaded."""

    def after_step(self, trainer: TrainerBase, stats: dict[str, Any]) -> None:
        pass

    def after_epoch(self, trainer: TrainerBase, stats: dict[str, Any]) -> None:
        pass

    def after_train(self, trainer: TrainerBase) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        """Mid-epoch state to save (keys must not clash with other hooks'); empty by default."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back this hook's part of a saved mid-epoch state (all hooks' keys are given)."""


def move_to_device(inputs: Any, device: torch.device) -> Any:
    """Move a tensor, or a (nested) list of tensors, to ``device``."""
    if isinstance(inputs, (list, tuple)):
        return [move_to_device(x, device) for x in inputs]
    return inputs.to(device, non_blocking=True)


class TrainerBase:
    """Epochs of steps with hooks; subclasses provide ``train_loader``, ``max_epoch``,
    :meth:`run_step` and, optionally, :meth:`begin_epoch` / :meth:`resume_iter`.

    State the hooks read: ``epoch`` (0-based), ``iter`` (global iterations done),
    ``epoch_iter`` (the current step's index in its epoch), ``epoch_start_iter`` (where this
    pass over the epoch began: non-zero after a mid-epoch resume), ``batch`` and
    ``batch_wait_s`` / ``t_batch`` (how long the step waited for its batch, and when it came),
    ``stop_requested`` (set by a step when every process agreed to stop), ``train_time_s``
    (seconds of training so far, evaluation excluded: kept by the loop itself, whatever the
    hooks), ``t_start`` and ``results`` (what :meth:`train` returns; hooks may add to it).
    """

    def __init__(self, hooks: list[HookBase] | None = None):
        self.hooks: list[HookBase] = []
        self.register_hooks(hooks or [])
        self.start_epoch = 0
        self.start_iter = 0
        self.epoch = 0
        self.iter = 0
        self.epoch_iter = 0
        self.epoch_start_iter = 0
        self.train_loader: Any = None
        self.batch: Any = None
        self.batch_wait_s = 0.0  # seconds the current step waited for its batch
        self.t_batch = 0.0
        self.stop_requested = False
        self.train_time_s = 0.0
        self.t_start = time.perf_counter()
        self.results: dict[str, Any] = {}

    @property
    def max_epoch(self) -> int:
        raise NotImplementedError

    def register_hooks(self, hooks: list[HookBase]) -> None:
        """Append ``hooks``; they are called in list order."""
        self.hooks.extend(hooks)

    def train(self) -> dict[str, Any]:
        """Run the epochs from ``start_epoch`` to :attr:`max_epoch` with the hooks; returns
        :attr:`results`."""
        self.before_train()
        self.epoch = self.start_epoch
        while self.epoch < self.max_epoch:
            self.results["train"] = self.run_epoch()
            self.epoch += 1
        self.results["epochs"] = self.epoch
        self.after_train()
        return self.results

    def before_train(self) -> None:
        """Call the hooks' ``before_train``."""
        for h in self.hooks:
            self._timed(h, h.before_train)

    def after_train(self) -> None:
        """Call the hooks' ``after_train``."""
        for h in self.hooks:
            h.after_train(self)

    def run_epoch(self) -> dict[str, Any]:
        """One pass over ``train_loader``; returns the epoch's record (filled by the hooks)."""
        self.epoch_start_iter = self.resume_iter()
        for h in self.hooks:
            self._timed(h, h.before_epoch)
        # From here to the after_epoch hooks every second is training time: the loader's set-up,
        # waits for data, steps and the step hooks (each counted once, as it passes).
        mark = time.perf_counter()
        self.begin_epoch()
        loader = self.train_loader
        iters = len(loader)
        head = {"epoch": self.epoch + 1, "max_epoch": self.max_epoch, "iters": iters}
        t_data = time.perf_counter()
        for it, batch in enumerate(loader, start=self.epoch_start_iter):
            self.epoch_iter, self.batch = it, batch
            self.t_batch = time.perf_counter()
            self.batch_wait_s = self.t_batch - t_data
            for h in self.hooks:
                h.before_step(self)
            stats = {"_type": "train_iter", **head, "iter": it + 1}
            stats.update(self.run_step(batch))
            self.iter += 1
            mark = self._count_training(mark)  # before the hooks: a checkpoint there has it
            for h in self.hooks:
                h.after_step(self, stats)
            if self.stop_requested:
                mark = self._count_training(mark)
                self.stop(it + 1, iters)
            t_data = time.perf_counter()
        self._count_training(mark)
        self.batch = None
        stats = {"_type": "train_epoch", **head}
        for h in self.hooks:
            self._timed(h, h.after_epoch, stats)
        return stats

    def resume_iter(self) -> int:
        """Iterations of the current epoch already done (a mid-epoch resume); 0 by default."""
        return 0

    def begin_epoch(self) -> None:
        """Ready the loader for the epoch, after the hooks' ``before_epoch``; nothing here."""

    def run_step(self, batch: Any) -> dict[str, Any]:
        """Train on one batch; returns the step's fields for its ``train_iter`` record."""
        raise NotImplementedError

    def stop(self, done: int, iters: int) -> None:
        """Called after the step that set ``stop_requested``; must raise to end training."""
        raise RuntimeError(f"stop requested after iteration {done}/{iters}")

    def hook_state(self) -> dict[str, Any]:
        """Every hook's mid-epoch state, merged (collective: call it on every process)."""
        state: dict[str, Any] = {}
        for h in self.hooks:
            state.update(h.state_dict())
        return state

    def load_hook_state(self, state: dict[str, Any]) -> None:
        """Hand a saved mid-epoch state back to the hooks."""
        for h in self.hooks:
            h.load_state_dict(state)

    def _count_training(self, mark: float) -> float:
        """Add the time since ``mark`` to ``train_time_s``; returns the new mark (now)."""
        now = time.perf_counter()
        self.train_time_s += now - mark
        return now

    def _timed(self, hook: HookBase, method: Callable[..., None], *args: Any) -> None:
        t0 = time.perf_counter()
        method(self, *args)
        if hook.training_time:
            self.train_time_s += time.perf_counter() - t0
