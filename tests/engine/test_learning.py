"""Training learns. The trainer's own step (forward, loss, backward, clipping, optimizer step)
memorises a batch of real clips, at the baseline's shape and at a coarse multigrid phase's
shape with its sub-BN. A full run, baseline and multigrid, moves every trained parameter, and
the learning rate in the optimizer's param groups is the policy's or the plan's at every step:
it is read from the optimizer, not from the hook that set it.

(Whole-run training losses on the tiny synthetic sets are too noisy over a few epochs to show
learning reliably, hence the memorised batch.)
"""

from __future__ import annotations

import pytest
import torch

from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.datasets.loader import construct_loader
from slowfast.engine.hooks import default_hooks
from slowfast.engine.launch import build_multigrid_schedule, seed_everything
from slowfast.engine.trainer import HookBase, Trainer
from slowfast.models.norm import SubBatchNorm3d
from slowfast.multigrid.builder import build_schedule
from slowfast.multigrid.cfg_rewrite import apply_phase, init_cfg
from slowfast.multigrid.plan import IterationPlan
from slowfast.utils.logging import setup_logging
from slowfast.utils.lr_policy import get_lr_at_epoch
from tests.engine.conftest import TINY_CFG, TINY_MODEL
from tests.engine.test_multigrid_training import MULTIGRID


def _cfg(info, out, *opts):
    return assert_and_infer_cfg(
        build_cfg(
            [TINY_CFG],
            [*info["overrides"], *TINY_MODEL, *opts, "OUTPUT_DIR", str(out)]
            + ["TEST.ENABLE", "False"],
        )
    )


def _memorise(cfg, steps=20, lr=0.1):
    """Losses of ``steps`` trainer steps on one batch of the cfg's training loader."""
    seed_everything(cfg.RNG_SEED)
    trainer = Trainer(cfg, hooks=[])
    batch = next(iter(construct_loader(cfg, "train")))
    for group in trainer.optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
    trainer.model.train()
    initial = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    losses = [trainer.run_step(batch)["loss"] for _ in range(steps)]
    moved = [n for n, p in trainer.model.named_parameters() if not torch.equal(p, initial[n])]
    return trainer, batch, losses, moved


def test_the_step_memorises_a_batch_at_the_baseline_shape(datasets, tmp_path):
    cfg = _cfg(datasets["kinetics"], tmp_path, "TRAIN.BATCH_SIZE", "8")
    trainer, batch, losses, moved = _memorise(cfg)
    assert batch[0][1].shape == (8, 3, cfg.DATA.NUM_FRAMES, 32, 32)  # the Fast pathway
    assert losses[0] > 1.0 and losses[-1] < 0.05 * losses[0], [round(x, 3) for x in losses]
    assert moved == [n for n, _ in trainer.model.named_parameters()]


def test_the_step_memorises_a_batch_at_a_coarse_multigrid_shape(datasets, tmp_path):
    info = datasets["kinetics_mg"]
    cfg = init_cfg(_cfg(info, tmp_path, *MULTIGRID, "TRAIN.BATCH_SIZE", "2"))
    first = build_schedule(cfg).phases[0]
    phase_cfg = apply_phase(cfg, first)
    assert first.num_frames < cfg.MULTIGRID.DEFAULT_T and phase_cfg.BN.NORM_TYPE == "sub_batchnorm"
    # A batch 8x as large, of 4-frame clips, with BN statistics over 2 clips: slower and
    # noisier to memorise than the baseline's, so a smaller LR, more steps and a laxer bound.
    trainer, batch, losses, moved = _memorise(phase_cfg, steps=40, lr=0.02)
    assert any(isinstance(m, SubBatchNorm3d) for m in trainer.model.modules())
    assert batch[0][1].shape[:3] == (first.batch_size, 3, first.num_frames)
    assert losses[0] > 1.0 and min(losses[-5:]) < 0.5 * losses[0], [round(x, 3) for x in losses]
    assert moved == [n for n, _ in trainer.model.named_parameters()]


class Recorder(HookBase):
    """After every step: the LR in the optimizer's param groups and the step's position; the
    parameters before the first step and at the end."""

    def __init__(self) -> None:
        self.steps: list[dict] = []
        self.initial: dict[str, torch.Tensor] = {}
        self.final: dict[str, torch.Tensor] = {}

    def before_train(self, trainer):
        self.initial = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}

    def after_step(self, trainer, stats):
        (lr,) = {g["lr"] / g.get("lr_scale", 1.0) for g in trainer.optimizer.param_groups}
        self.steps.append(
            {
                "lr": lr,
                "iter": trainer.iter - 1,
                "epoch": trainer.epoch,
                "epoch_iter": trainer.epoch_iter,
                "iters": len(trainer.train_loader),
            }
        )

    def after_train(self, trainer):
        self.final = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}


def _train(cfg):
    setup_logging(cfg.OUTPUT_DIR)
    seed_everything(cfg.RNG_SEED)
    cfg, schedule = build_multigrid_schedule(cfg)
    recorder = Recorder()
    Trainer(cfg, hooks=default_hooks(cfg, schedule) + [recorder]).train()
    unmoved = [n for n in recorder.initial if torch.equal(recorder.initial[n], recorder.final[n])]
    assert unmoved == []
    return cfg, schedule, recorder


def test_a_baseline_run_moves_every_parameter_at_the_policy_lr(datasets, tmp_path):
    cfg = _cfg(
        datasets["kinetics"],
        tmp_path,
        *("SOLVER.MAX_EPOCH", "3", "SOLVER.WARMUP_EPOCHS", "1.0", "TRAIN.BATCH_SIZE", "4"),
    )
    cfg, _, rec = _train(cfg)
    assert len(rec.steps) == 3 * 6  # 24 videos in batches of 4
    for step in rec.steps:
        expected = get_lr_at_epoch(cfg, step["epoch"] + step["epoch_iter"] / step["iters"])
        assert step["lr"] == pytest.approx(expected, rel=1e-6)
    assert rec.steps[0]["lr"] == pytest.approx(cfg.SOLVER.WARMUP_START_LR)  # the warm-up ran
    assert rec.steps[-1]["lr"] < rec.steps[6]["lr"]  # and the cosine decay after it


def test_a_multigrid_run_moves_every_parameter_at_the_plan_lr(datasets, tmp_path):
    cfg, schedule, rec = _train(_cfg(datasets["kinetics_mg"], tmp_path, *MULTIGRID))
    plan = IterationPlan(schedule, 40)  # the kinetics_mg set: 40 training videos
    assert [s["iter"] for s in rec.steps] == list(range(plan.num_iters))
    for step in rec.steps:
        assert step["lr"] == pytest.approx(plan.lr_at(step["iter"]), rel=1e-6)
    assert len({round(s["lr"], 12) for s in rec.steps}) >= 3  # the LR moved through stages
