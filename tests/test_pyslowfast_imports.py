"""PySlowFast's import paths for scripts: the modules a PySlowFast ``tools/train_net.py`` imports
at its top (where this project has the same thing) import under their PySlowFast names, and a
training step written the PySlowFast way runs through them."""

from __future__ import annotations

import importlib

import pytest
import torch

import slowfast.models.losses as losses
import slowfast.models.optimizer as optim
import slowfast.utils.checkpoint as cu
import slowfast.utils.misc as misc
from slowfast.models import build_model
from slowfast.models.norm import SubBatchNorm3d
from slowfast.utils.multigrid import MultigridSchedule
from tests.models.tiny import clip_inputs, tiny_cfg

# PySlowFast name -> (module here, name here): the table docs/MIGRATING.md lists.
ALIASES = {
    "slowfast.utils.multigrid.MultigridSchedule": "slowfast.multigrid.compat.MultigridSchedule",
    "slowfast.utils.multigrid.print_schedule": "slowfast.multigrid.compat.print_schedule",
    "slowfast.utils.checkpoint.save_checkpoint": "slowfast.checkpoint.compat.save_checkpoint",
    "slowfast.utils.checkpoint.load_checkpoint": "slowfast.checkpoint.compat.load_checkpoint",
    "slowfast.utils.checkpoint.load_train_checkpoint": (
        "slowfast.checkpoint.compat.load_train_checkpoint"
    ),
    "slowfast.utils.checkpoint.has_checkpoint": "slowfast.checkpoint.paths.has_checkpoint",
    "slowfast.utils.checkpoint.is_checkpoint_epoch": "slowfast.checkpoint.policy."
    "is_checkpoint_epoch",
    "slowfast.utils.misc.is_eval_epoch": "slowfast.checkpoint.policy.is_eval_epoch",
    "slowfast.utils.misc.params_count": "slowfast.models.stats.params_count",
    "slowfast.utils.misc.aggregate_sub_bn_stats": "slowfast.models.norm.aggregate_sub_bn_stats",
    "slowfast.models.optimizer.construct_optimizer": "slowfast.utils.optimizer.construct_optimizer",
    "slowfast.models.optimizer.get_epoch_lr": "slowfast.utils.lr_policy.get_epoch_lr",
    "slowfast.models.losses.get_loss_func": "slowfast.engine.losses.loss_constructor",
}


def _resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_each_alias_is_the_object_it_names():
    for theirs, ours in ALIASES.items():
        assert _resolve(theirs) is _resolve(ours), theirs


def test_a_training_step_written_the_pyslowfast_way(tmp_path):
    cfg = tiny_cfg("slowfast", 50, "OUTPUT_DIR", str(tmp_path), "SOLVER.BASE_LR", "0.05")
    cfg.defrost()
    multigrid = MultigridSchedule()
    cfg.MULTIGRID.LONG_CYCLE = True
    cfg.SOLVER.LR_POLICY = "steps_with_relative_lrs"
    cfg.SOLVER.STEPS, cfg.SOLVER.LRS, cfg.SOLVER.MAX_EPOCH = [0, 4, 6], [1, 0.1, 0.01], 8
    cfg.DATA.NUM_FRAMES, cfg.SLOWFAST.ALPHA = 32, 4  # whole Slow frames at every stage
    cfg = multigrid.init_multigrid(cfg)
    cfg, changed = multigrid.update_long_cycle(cfg, cur_epoch=0)
    assert changed and multigrid.schedule[0][1][1] == cfg.DATA.NUM_FRAMES  # a coarse stage
    torch.manual_seed(0)
    model = build_model(cfg)
    optimizer = optim.construct_optimizer(model, cfg)
    assert cu.load_train_checkpoint(cfg, model, optimizer) == 0  # nothing to resume
    loss_fun = losses.get_loss_func(cfg.MODEL.LOSS_FUNC)(reduction="mean")
    x = clip_inputs(cfg, batch=4)
    labels = torch.tensor([0, 1, 2, 0])
    before = [p.detach().clone() for p in model.parameters()]
    lr = optim.get_epoch_lr(0.5, cfg)
    optim.set_lr(optimizer, lr)
    assert optimizer.param_groups[0]["lr"] == lr > 0
    loss = loss_fun(model(x), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    assert misc.params_count(model) == sum(p.numel() for p in model.parameters())
    sub_bn = [m for m in model.modules() if isinstance(m, SubBatchNorm3d)]
    assert misc.aggregate_sub_bn_stats(model) == len(sub_bn)
    cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, 0, cfg)
    assert cu.has_checkpoint(cfg.OUTPUT_DIR)
    assert cu.get_last_checkpoint(cfg.OUTPUT_DIR, "").endswith("checkpoint_epoch_00001.pyth")
    # A new process resumes after the saved epoch, PySlowFast's way.
    fresh = build_model(cfg)
    fresh_opt = optim.construct_optimizer(fresh, cfg)
    assert cu.load_train_checkpoint(cfg, fresh, fresh_opt) == 1
    for a, b in zip(fresh.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    tested = build_model(cfg)
    cu.load_test_checkpoint(cfg, tested)
    assert torch.equal(tested.head.projection.weight, model.head.projection.weight)


def test_only_the_mean_reduction_is_offered():
    with pytest.raises(ValueError, match="reduction 'sum' is not available"):
        losses.get_loss_func("cross_entropy")(reduction="sum")
