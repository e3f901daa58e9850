"""The loop without features: hooks are called in order around training, epochs and steps, see
the records being built, and a stop request ends the epoch; mixed precision is a trainer
variant chosen from the config."""

import time

import pytest
import torch

from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.engine.step_hooks import IterationTimer
from slowfast.engine.train_loop import HookBase, TrainerBase
from slowfast.engine.trainer import AMPTrainer, Trainer, build_trainer
from tests.engine.conftest import TINY_CFG, TINY_MODEL


class Toy(TrainerBase):
    """Two epochs of three "steps" over a list; the step's loss is its batch."""

    def __init__(self, hooks, stop_at=None):
        super().__init__(hooks)
        self.train_loader = [
            (torch.tensor(float(i)), torch.zeros(1), torch.tensor([i]), {}) for i in range(3)
        ]
        self.stop_at = stop_at

    @property
    def max_epoch(self):
        return 2

    def run_step(self, batch):
        self.stop_requested = self.iter + 1 == self.stop_at
        return {"loss": float(batch[0])}

    def stop(self, done, iters):
        raise KeyboardInterrupt(f"{done}/{iters}")


class Recorder(HookBase):
    def __init__(self, name, calls):
        self.name, self.calls = name, calls

    def before_train(self, trainer):
        self.calls.append((self.name, "before_train"))

    def before_epoch(self, trainer):
        self.calls.append((self.name, "before_epoch", trainer.epoch))

    def before_step(self, trainer):
        self.calls.append((self.name, "before_step", trainer.iter, trainer.epoch_iter))

    def after_step(self, trainer, stats):
        stats.setdefault("seen_by", []).append(self.name)
        self.calls.append(
            (self.name, "after_step", trainer.iter, stats["loss"], tuple(stats["seen_by"]))
        )

    def after_epoch(self, trainer, stats):
        self.calls.append((self.name, "after_epoch", stats["_type"], stats["iters"]))

    def after_train(self, trainer):
        trainer.results[self.name] = True
        self.calls.append((self.name, "after_train"))


def test_hooks_are_called_in_order_around_each_step():
    calls = []
    results = Toy([Recorder("a", calls), Recorder("b", calls)]).train()
    assert calls[:2] == [("a", "before_train"), ("b", "before_train")]
    assert calls[2:4] == [("a", "before_epoch", 0), ("b", "before_epoch", 0)]
    # trainer.iter counts the steps done: a step's before_step sees it before the step.
    assert calls[4:8] == [
        ("a", "before_step", 0, 0),
        ("b", "before_step", 0, 0),
        ("a", "after_step", 1, 0.0, ("a",)),
        ("b", "after_step", 1, 0.0, ("a", "b")),
    ]
    assert ("a", "after_epoch", "train_epoch", 3) in calls
    assert calls[-2:] == [("a", "after_train"), ("b", "after_train")]
    assert sum(c[1] == "after_step" for c in calls) == 2 * 2 * 3
    assert results["a"] and results["b"] and results["epochs"] == 2
    assert results["train"]["epoch"] == 2


def test_a_stop_request_ends_training_after_its_step():
    calls = []
    with pytest.raises(KeyboardInterrupt, match="2/3"):
        Toy([Recorder("a", calls)], stop_at=5).train()
    assert [c for c in calls if c[1] == "after_step"][-1][2] == 5


def _model_cfg(*opts):
    return assert_and_infer_cfg(build_cfg([TINY_CFG], [*TINY_MODEL, "NUM_GPUS", "0", *opts]))


class Clock:
    """A perf_counter that only the loader, the steps and the hooks below move."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class TimedToy(Toy):
    """Toy whose loader set-up, batch fetches and steps take known times on ``clock``."""

    def __init__(self, hooks, clock):
        super().__init__(hooks)
        self.clock, batches = clock, self.train_loader

        class Loader:
            def __len__(self):
                return len(batches)

            def __iter__(self):
                for b in batches:
                    clock.t += 0.25
                    yield b

        self.train_loader = Loader()

    def begin_epoch(self):
        self.clock.t += 0.125

    def run_step(self, batch):
        self.clock.t += 1.0
        return super().run_step(batch)


class Busy(HookBase):
    def __init__(self, clock, epoch_s=2.0, step_s=0.5, training_time=True):
        self.clock, self.epoch_s, self.step_s = clock, epoch_s, step_s
        self.training_time = training_time

    def before_epoch(self, trainer):
        self.clock.t += self.epoch_s

    def after_step(self, trainer, stats):
        self.clock.t += self.step_s

    def after_epoch(self, trainer, stats):
        self.clock.t += 2 * self.epoch_s


def test_training_time_counts_every_second_once_and_no_evaluation(monkeypatch):
    """train_time_s is the loader's, the steps' and the training hooks' time, each counted once
    (none again by the IterationTimer), and nothing of a hook marked as evaluation."""
    clock = Clock()
    monkeypatch.setattr(time, "perf_counter", clock)
    evaluation = Busy(clock, epoch_s=50.0, step_s=0.0, training_time=False)
    hooks = [Busy(clock), IterationTimer(), Busy(clock), evaluation]
    epochs = []

    class Keep(HookBase):
        def after_epoch(self, trainer, stats):
            epochs.append(dict(stats))

    toy = TimedToy([*hooks, Keep()], clock)
    toy.train()
    # Per epoch: set-up 0.125, 3 x (fetch 0.25 + step 1.0 + 2 hooks x 0.5), 2 hooks x (2 + 4).
    per_epoch = 0.125 + 3 * (0.25 + 1.0 + 1.0) + 2 * 6.0
    assert toy.train_time_s == 2 * per_epoch
    # The epoch record is written before the later hooks' after_epoch: 4 s short of the epoch.
    assert [e["train_time_s"] for e in epochs] == [per_epoch - 4.0, 2 * per_epoch - 4.0]
    assert epochs[0]["data_time_s"] == 3 * 0.25
    # A trainer without the IterationTimer keeps the same time.
    clock.t = 0.0
    bare = TimedToy([Busy(clock), Busy(clock), evaluation], clock)
    bare.train()
    assert bare.train_time_s == 2 * per_epoch


def test_a_stop_request_counts_its_step_before_stopping(monkeypatch):
    """What the step and its hooks took is in train_time_s when the trainer stops (so a
    mid-epoch checkpoint written then has it)."""
    clock = Clock()
    monkeypatch.setattr(time, "perf_counter", clock)
    seen = []

    class StopToy(TimedToy):
        def stop(self, done, iters):
            seen.append(self.train_time_s)
            raise KeyboardInterrupt

    toy = StopToy([Busy(clock)], clock)
    toy.stop_at = 2
    with pytest.raises(KeyboardInterrupt):
        toy.train()
    assert seen == [2.0 + 0.125 + 2 * (0.25 + 1.0 + 0.5)]


def test_mixed_precision_is_a_trainer_variant():
    cfg = _model_cfg("TRAIN.MIXED_PRECISION", "True")
    trainer = build_trainer(cfg)
    assert type(trainer) is AMPTrainer and trainer.amp_dtype == torch.bfloat16
    assert not trainer.amp_enabled  # bfloat16 needs no gradient scaler
    with pytest.raises(ValueError, match="AMPTrainer"):
        Trainer(cfg)
    plain = build_trainer(_model_cfg())
    assert type(plain) is Trainer and plain.amp_dtype is None and plain.hooks == []
