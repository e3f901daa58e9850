"""The loop without features: hooks are called in order around training, epochs and steps, see
the records being built, and a stop request ends the epoch; mixed precision is a trainer
variant chosen from the config."""

import pytest
import torch

from slowfast.config import assert_and_infer_cfg, build_cfg
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


def test_mixed_precision_is_a_trainer_variant():
    cfg = _model_cfg("TRAIN.MIXED_PRECISION", "True")
    trainer = build_trainer(cfg)
    assert type(trainer) is AMPTrainer and trainer.amp_dtype == torch.bfloat16
    assert not trainer.amp_enabled  # bfloat16 needs no gradient scaler
    with pytest.raises(ValueError, match="AMPTrainer"):
        Trainer(cfg)
    plain = build_trainer(_model_cfg())
    assert type(plain) is Trainer and plain.amp_dtype is None and plain.hooks == []
