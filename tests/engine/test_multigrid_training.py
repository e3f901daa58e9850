"""Multigrid in the training loop: the run follows its iteration plan (every phase at its
iteration and shape), shape switches are in memory and equal a rebuild-and-reload from a
checkpoint file, resume inside the schedule is exact, and the final checkpoint has the plain-BN
(PySlowFast) layout.
"""

import os
from collections import Counter

import pytest
import torch

from slowfast.checkpoint import load_checkpoint, save_checkpoint
from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.models import build_model
from slowfast.models.norm import convert_norm
from slowfast.multigrid import apply_phase, build_schedule, init_cfg
from slowfast.multigrid.plan import IterationPlan
from slowfast.utils.optimizer import construct_optimizer
from tests.engine.conftest import TINY_CFG, TINY_MODEL, records, run_net

MULTIGRID = [
    "MULTIGRID.LONG_CYCLE",
    "True",
    "MULTIGRID.SHORT_CYCLE",
    "True",
    "MULTIGRID.BN_BASE_SIZE",
    "2",
    "MULTIGRID.EPOCH_FACTOR",
    "1.5",
    "SOLVER.LR_POLICY",
    "steps_with_relative_lrs",
    "SOLVER.STEPS",
    "[0, 3, 5]",
    "SOLVER.LRS",
    "[1, 0.1, 0.01]",
    "SOLVER.MAX_EPOCH",
    "6",
    "DATA.NUM_FRAMES",
    "16",
    "TRAIN.BATCH_SIZE",
    "2",
    "BN.USE_PRECISE_STATS",
    "True",
    "BN.NUM_BATCHES_PRECISE",
    "1",
]


@pytest.fixture(scope="module")
def mg_run(datasets, tmp_path_factory):
    """OUTPUT_DIR of one uninterrupted multigrid run through tools/run_net.py."""
    out = tmp_path_factory.mktemp("mg") / "run"
    assert run_net(datasets["kinetics_mg"], out, *MULTIGRID, "TEST.ENABLE", "False") == 0
    return out


def test_multigrid_run_follows_the_iteration_plan(datasets, mg_run):
    info = datasets["kinetics_mg"]
    out = mg_run
    cfg = init_cfg(
        assert_and_infer_cfg(build_cfg([TINY_CFG], [*info["overrides"], *TINY_MODEL, *MULTIGRID]))
    )
    schedule = build_schedule(cfg)
    plan = IterationPlan(schedule, 40)
    epochs = records(out, "train_epoch")
    assert len(epochs) == plan.num_epochs == cfg.SOLVER.MAX_EPOCH
    starts = plan.epoch_starts
    assert [r["iters"] for r in epochs] == [b - a for a, b in zip(starts, starts[1:])]
    # Every phase starts at its planned iteration, at its shape; none is empty.
    switches = records(out, "multigrid_switch")
    assert [s["iter"] for s in switches] == [sp.start_iter for sp in plan.spans]
    assert [(s["batch_size"], s["num_frames"], s["crop_size"]) for s in switches] == [
        (p.batch_size, p.num_frames, p.crop_size) for p in schedule.phases
    ]
    assert all(s["phase_iters"] >= 1 for s in switches)
    assert {s["norm_type"] for s in switches} >= {"sub_batchnorm", "batchnorm"}
    # The run trained exactly the plan's clips at each shape (long and short cycles).
    planned = Counter()
    for it in range(plan.num_iters):
        size, shape = plan.batch_at(it)
        planned[shape.key] += size
    assert records(out, "train_done")[-1]["clips_by_shape"] == dict(planned)
    assert len(records(out, "val_epoch")) == len(schedule.eval_epochs)
    # The last iteration of each epoch (always logged) used the plan's LR, batch and shape.
    last_iters = [r for r in records(out, "train_iter") if r["iter"] == r["iters"]]
    assert len(last_iters) == sum(1 for a, b in zip(starts, starts[1:]) if b > a)
    for rec in last_iters:
        it = starts[rec["epoch"]] - 1
        size, shape = plan.batch_at(it)
        assert rec["lr"] == pytest.approx(plan.lr_at(it), rel=1e-5)
        assert rec["shape"] == f"{size}x{shape.num_frames}x{shape.crop_size}"
    # The last checkpoint is in the plain-BN layout and loads strictly into a plain model.
    last = sorted(os.listdir(out / "checkpoints"))[-1]
    state = torch.load(out / "checkpoints" / last, map_location="cpu", weights_only=True)
    assert not [k for k in state["model_state"] if "split_bn" in k or ".bn.bn." in k]
    plain = build_model(
        assert_and_infer_cfg(build_cfg([TINY_CFG], [*info["overrides"], *TINY_MODEL]))
    )
    plain.load_state_dict(state["model_state"], strict=True)


def _phase_cfgs(info):
    cfg = init_cfg(
        assert_and_infer_cfg(
            build_cfg(
                [TINY_CFG], [*info["overrides"], *TINY_MODEL, *MULTIGRID, "TRAIN.BATCH_SIZE", "2"]
            )
        )
    )
    schedule = build_schedule(cfg)
    sub = [p for p in schedule.phases if p.bn.norm_type == "sub_batchnorm"]
    plain = [p for p in schedule.phases if p.bn.norm_type == "batchnorm"]
    return apply_phase(cfg, sub[0]), apply_phase(cfg, sub[-1]), apply_phase(cfg, plain[-1])


def _step(model, optimizer, frames):
    model.train()
    loss = model(frames).logsumexp(dim=1).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def _clip(cfg, batch, seed):
    g = torch.Generator().manual_seed(seed)
    fast = torch.randn(
        batch,
        3,
        cfg.DATA.NUM_FRAMES,
        cfg.DATA.TRAIN_CROP_SIZE,
        cfg.DATA.TRAIN_CROP_SIZE,
        generator=g,
    )
    slow = fast[:, :, :: cfg.SLOWFAST.ALPHA]
    return [slow, fast]


def test_in_memory_switch_equals_checkpoint_reload(datasets, tmp_path):
    cfg_a, cfg_b, cfg_c = _phase_cfgs(datasets["kinetics_mg"])
    assert cfg_a.BN.NUM_SPLITS > 1
    torch.manual_seed(0)
    model = build_model(cfg_a)
    optimizer = construct_optimizer(model, cfg_a)
    _step(model, optimizer, _clip(cfg_a, cfg_a.TRAIN.BATCH_SIZE, 1))
    for cfg_next in (cfg_b, cfg_c):
        path = save_checkpoint(str(tmp_path / cfg_next.BN.NORM_TYPE), model, optimizer, 0, cfg_a)
        # In memory: switch the norms of the live model; the optimizer is kept as it is.
        params_before = [id(p) for p in model.parameters()]
        convert_norm(model, cfg_next)
        assert [id(p) for p in model.parameters()] == params_before
        # From disk: a fresh model of the next phase, loaded from the checkpoint file.
        reloaded = build_model(cfg_next)
        opt_reloaded = construct_optimizer(reloaded, cfg_next)
        load_checkpoint(path, reloaded, optimizer=opt_reloaded)
        model.eval()
        reloaded.eval()
        x = _clip(cfg_a, 2, 2)
        with torch.no_grad():
            torch.testing.assert_close(model(x), reloaded(x), rtol=0, atol=1e-6)
        # One more training step on both: same parameters after it (optimizer state carried).
        x = _clip(cfg_next, cfg_next.TRAIN.BATCH_SIZE, 3)
        _step(model, optimizer, x)
        _step(reloaded, opt_reloaded, x)
        for (name, p), q in zip(model.named_parameters(), reloaded.parameters()):
            torch.testing.assert_close(p, q, rtol=0, atol=1e-6, msg=name)


def test_resume_inside_the_schedule_matches_uninterrupted_run(datasets, mg_run, tmp_path):
    """Stopped after epoch 4 (inside a phase and its short cycle) and resumed: the same epochs,
    phases and iterations, and exactly the parameters of the uninterrupted run at the end."""
    from slowfast.engine.hooks import default_hooks
    from slowfast.engine.launch import build_multigrid_schedule, seed_everything
    from slowfast.engine.trainer import HookBase, Trainer
    from slowfast.utils.logging import setup_logging

    class Stop(Exception):
        pass

    class StopAfter(HookBase):
        def after_epoch(self, trainer, stats):
            if trainer.epoch + 1 == 4:
                raise Stop

    info = datasets["kinetics_mg"]
    out = tmp_path / "resumed"
    base = assert_and_infer_cfg(
        build_cfg([TINY_CFG], [*info["overrides"], *TINY_MODEL, *MULTIGRID, "OUTPUT_DIR", str(out)])
    )
    for stop in (True, False):
        setup_logging(str(out))
        seed_everything(base.RNG_SEED)
        cfg, schedule = build_multigrid_schedule(base)
        hooks = default_hooks(cfg, schedule) + ([StopAfter()] if stop else [])
        stopped = False
        try:
            Trainer(cfg, hooks=hooks).train()
        except Stop:
            stopped = True
        assert stopped == stop  # the first run did stop after epoch 4; the second ran through
    # The stop falls inside a phase and inside its short cycle, not at a boundary.
    plan = IterationPlan(build_schedule(init_cfg(base)), 40)
    stop_at = plan.epoch_starts[4]
    span = plan.span_at(stop_at)
    assert span.start_iter < stop_at and (stop_at - span.start_iter) % len(span.shapes) != 0
    full, resumed = records(mg_run, "train_epoch"), records(out, "train_epoch")

    def key(r):
        return r["epoch"], r["batch_size"], r["num_frames"], r["crop_size"], r["iters"]

    assert [key(r) for r in resumed] == [key(r) for r in full]
    last = sorted(os.listdir(out / "checkpoints"))[-1]
    a = torch.load(mg_run / "checkpoints" / last, weights_only=True)["model_state"]
    b = torch.load(out / "checkpoints" / last, weights_only=True)["model_state"]
    plain = build_model(base)
    for name, _ in plain.named_parameters():
        assert torch.equal(a[name], b[name]), name
