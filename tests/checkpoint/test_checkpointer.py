"""Checkpointer, file layout, resume and strict-load behaviour (and the PySlowFast-signature
save_checkpoint / load_checkpoint over it)."""

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from slowfast.checkpoint import (
    Checkpointer,
    CheckpointMismatchError,
    RNGState,
    StateFunctions,
    get_checkpoint_dir,
    get_last_checkpoint,
    get_path_to_checkpoint,
    has_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from slowfast.checkpoint.startup import build_checkpointer, resume_or_load, start_position
from slowfast.config.defaults import get_cfg
from slowfast.config.errors import ConfigError
from slowfast.models.norm import SubBatchNorm3d
from slowfast.utils import distributed as du


class Net(nn.Module):
    def __init__(self, num_classes=3, norm=None):
        super().__init__()
        self.conv = nn.Conv3d(2, 4, 1)
        self.bn = norm or nn.BatchNorm3d(4)
        self.head = nn.Module()
        self.head.projection = nn.Linear(4, num_classes)

    def forward(self, x):
        return self.head.projection(self.bn(self.conv(x)).mean((2, 3, 4)))


class Wrapper(nn.Module):
    """A wrapper that is not DDP: its state-dict keys carry the ``module.`` prefix."""

    def __init__(self, module):
        super().__init__()
        self.module = module


def _cfg(tmp_path):
    cfg = get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path)
    return cfg


def _seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _trained(seed=0, **kwargs):
    torch.manual_seed(seed)
    model = Net(**kwargs)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 2, 1, 2, 2)).sum().backward()
    opt.step()
    return model, opt


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_round_trip_layout_and_weights_only(tmp_path):
    cfg = _cfg(tmp_path)
    model, opt = _trained()
    path = save_checkpoint(str(tmp_path), model, opt, 4, cfg, extra={"phase": 2})
    assert path == os.path.join(str(tmp_path), "checkpoints", "checkpoint_epoch_00005.pyth")
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert raw["epoch"] == 4 and isinstance(raw["cfg"], str) and "SOLVER" in raw["cfg"]
    assert {"model_state", "optimizer_state", "rng_state", "extra"} <= raw.keys()
    assert "scaler_state" not in raw
    assert os.listdir(os.path.dirname(path)) == ["checkpoint_epoch_00005.pyth"]

    fresh = Net()
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    assert load_checkpoint(path, fresh, optimizer=fresh_opt) == 4
    assert _same_weights(model, fresh)
    buf = fresh_opt.state[fresh.conv.weight]["momentum_buffer"]
    assert torch.equal(buf, opt.state[model.conv.weight]["momentum_buffer"])
    assert get_last_checkpoint(str(tmp_path)) == path and has_checkpoint(str(tmp_path))


def test_scaler_state_round_trip(tmp_path):
    cfg = _cfg(tmp_path)
    model, opt = _trained()
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    path = save_checkpoint(str(tmp_path), model, opt, 0, cfg, scaler=scaler)
    other = torch.amp.GradScaler("cpu", init_scale=8.0)
    load_checkpoint(path, Net(), scaler=other)
    assert other.state_dict()["scale"] == 1024.0


def test_atomic_write_keeps_old_file(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path)
    model, opt = _trained(seed=0)
    path = save_checkpoint(str(tmp_path), model, opt, 0, cfg)
    size = os.path.getsize(path)

    def crash(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    newer, newer_opt = _trained(seed=1)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(str(tmp_path), newer, newer_opt, 0, cfg)
    with pytest.raises(OSError):
        save_checkpoint(str(tmp_path), newer, newer_opt, 1, cfg)
    monkeypatch.undo()
    assert os.listdir(os.path.dirname(path)) == ["checkpoint_epoch_00001.pyth"]  # no temp left
    assert os.path.getsize(path) == size
    fresh = Net()
    load_checkpoint(path, fresh)
    assert _same_weights(model, fresh)


def test_only_master_saves(tmp_path, monkeypatch):
    model, opt = _trained()
    monkeypatch.setattr(du, "is_master_proc", lambda *a: False)
    assert save_checkpoint(str(tmp_path), model, opt, 0, _cfg(tmp_path)) is None
    assert not has_checkpoint(str(tmp_path))


def test_module_prefix_both_ways(tmp_path):
    cfg = _cfg(tmp_path)
    model, opt = _trained()
    # Saving through a DataParallel wrapper stores keys without "module.".
    path = save_checkpoint(str(tmp_path), nn.DataParallel(model), opt, 0, cfg)
    keys = torch.load(path, weights_only=True)["model_state"].keys()
    assert keys and not any(k.startswith("module.") for k in keys)
    # A plain checkpoint loads into a model whose keys carry the prefix ...
    wrapped = Wrapper(Net())
    load_checkpoint(path, wrapped, data_parallel=False)
    assert _same_weights(model, wrapped.module)
    # ... and a checkpoint with prefixed keys (another code base's DDP save) into a plain model.
    prefixed = str(tmp_path / "prefixed.pyth")
    torch.save({"model_state": Wrapper(model).state_dict(), "epoch": 3}, prefixed)
    fresh = Net()
    assert load_checkpoint(prefixed, fresh) == 3
    assert _same_weights(model, fresh)


def test_head_mismatch_skipped_other_mismatch_fails(tmp_path, logs):
    cfg = _cfg(tmp_path)
    model, opt = _trained(num_classes=3)
    path = save_checkpoint(str(tmp_path), model, opt, 0, cfg)
    finetune = Net(num_classes=5)
    head_before = finetune.head.projection.weight.clone()
    load_checkpoint(path, finetune, epoch_reset=True)
    assert torch.equal(finetune.conv.weight, model.conv.weight)
    assert torch.equal(finetune.head.projection.weight, head_before)
    assert "head.projection.weight: checkpoint (3, 4) vs model (5, 4)" in logs.text

    class Wider(Net):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv3d(2, 4, 3)
            self.extra = nn.Linear(1, 1)

    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(path, Wider())
    msg = str(err.value)
    assert path in msg and "conv.weight: checkpoint (4, 2, 1, 1, 1) vs model (4, 2, 3, 3, 3)" in msg
    assert "missing from the checkpoint (2): extra.weight, extra.bias" in msg
    # Non-strict loading skips the misfits and loads the rest.
    lenient = Wider()
    load_checkpoint(path, lenient, strict=False)
    assert torch.equal(lenient.bn.running_mean, model.bn.running_mean)


def test_unexpected_keys_and_clear_name_pattern(tmp_path):
    model, _ = _trained()
    path = str(tmp_path / "backbone.pyth")
    state = {f"backbone.{k}": v for k, v in model.state_dict().items()}
    torch.save({"model_state": state}, path)
    with pytest.raises(CheckpointMismatchError, match="not in the model"):
        load_checkpoint(path, Net())
    fresh = Net()
    assert load_checkpoint(path, fresh, clear_name_pattern=("backbone.",)) == -1
    assert _same_weights(model, fresh)


def test_sub_bn_stored_as_plain_bn(tmp_path):
    cfg = _cfg(tmp_path)
    torch.manual_seed(0)
    sub = Net(norm=SubBatchNorm3d(4, num_splits=2))
    sub.train()
    sub(torch.randn(4, 2, 2, 3, 3))
    sub.eval()  # aggregates split statistics into bn
    opt = torch.optim.SGD(sub.parameters(), lr=0.1)
    path = save_checkpoint(str(tmp_path), sub, opt, 0, cfg)
    state = torch.load(path, weights_only=True)["model_state"]
    assert "bn.running_mean" in state and not any("split_bn" in k or "bn.bn." in k for k in state)
    assert torch.equal(state["bn.running_mean"], sub.bn.bn.running_mean)

    plain = Net()  # PySlowFast interchange: loads into plain BN
    load_checkpoint(path, plain)
    assert torch.equal(plain.bn.running_var, sub.bn.bn.running_var)
    three = Net(norm=SubBatchNorm3d(4, num_splits=3))  # and into sub-BN with other splits
    load_checkpoint(path, three)
    assert torch.equal(three.bn.bn.running_mean, sub.bn.bn.running_mean)
    assert torch.equal(three.bn.split_bn.running_mean, sub.bn.bn.running_mean.repeat(3))
    assert torch.equal(three.bn.weight, sub.bn.weight)


def test_auto_resume_skips_truncated_newest_and_restores_rng(tmp_path, logs):
    cfg = _cfg(tmp_path)
    model, opt = _trained()
    save_checkpoint(str(tmp_path), model, opt, 0, cfg, extra={"phase": 0})
    _seed(1)
    save_checkpoint(str(tmp_path), model, opt, 1, cfg, extra={"phase": 1})
    expected = (random.random(), np.random.rand(), torch.rand(1))
    newest = save_checkpoint(str(tmp_path), model, opt, 2, cfg)
    with open(newest, "r+b") as f:
        f.truncate(os.path.getsize(newest) // 2)

    _seed(9)
    fresh = Net()
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    checkpointer = build_checkpointer(cfg, fresh, optimizer=fresh_opt, rng=RNGState())
    extras = checkpointer.load_newest()
    assert checkpointer.loaded_from.endswith("checkpoint_epoch_00002.pyth")
    assert start_position(extras, resumed=True) == (2, 0)
    assert extras["extra"] == {"phase": 1} and checkpointer.skipped == [newest]
    assert f"Skipping unreadable checkpoint {newest}" in logs.text
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected
    assert _same_weights(model, fresh)

    cfg.TRAIN.AUTO_RESUME = True
    assert resume_or_load(cfg, build_checkpointer(cfg, Net()))[0] == 2


def test_all_checkpoints_unreadable_is_an_error(tmp_path):
    cfg = _cfg(tmp_path)
    os.makedirs(get_checkpoint_dir(str(tmp_path)))
    with open(get_path_to_checkpoint(str(tmp_path), 1), "wb") as f:
        f.write(b"garbage")
    with pytest.raises(RuntimeError, match="none of the 1 checkpoints"):
        resume_or_load(cfg, build_checkpointer(cfg, Net()))[0]


def test_load_train_checkpoint_from_file(tmp_path):
    cfg = _cfg(tmp_path / "job")
    model, opt = _trained()
    init = str(tmp_path / "init.pyth")
    torch.save({"model_state": model.state_dict(), "epoch": 7}, init)
    cfg.TRAIN.CHECKPOINT_FILE_PATH = init
    fresh = Net()
    assert resume_or_load(cfg, build_checkpointer(cfg, fresh))[0] == 8
    assert _same_weights(model, fresh)
    cfg.TRAIN.CHECKPOINT_EPOCH_RESET = True
    assert resume_or_load(cfg, build_checkpointer(cfg, Net()))[0] == 0
    cfg.TRAIN.CHECKPOINT_FILE_PATH = str(tmp_path / "nope.pyth")
    with pytest.raises(ConfigError, match=r"TRAIN.CHECKPOINT_FILE_PATH.*nope\.pyth"):
        resume_or_load(cfg, build_checkpointer(cfg, Net()))[0]
    cfg.TRAIN.CHECKPOINT_FILE_PATH = ""
    assert resume_or_load(cfg, build_checkpointer(cfg, Net()))[0] == 0


def test_extra_must_be_plain(tmp_path):
    model, opt = _trained()
    with pytest.raises(TypeError, match=r"extra\['rates'\] is a ndarray"):
        save_checkpoint(str(tmp_path), model, opt, 0, _cfg(tmp_path), extra={"rates": np.ones(2)})


# ---------------------------------------------------------------------------------------------
# The Checkpointer itself
# ---------------------------------------------------------------------------------------------


class Counter:
    """A hook-like checkpointable with state of its own."""

    def __init__(self, n=0):
        self.n = n

    def state_dict(self):
        return {"n": self.n}

    def load_state_dict(self, state):
        self.n = state["n"]


def test_checkpointer_round_trip_with_checkpointables(tmp_path):
    model, opt = _trained()
    scaler = torch.amp.GradScaler("cpu", init_scale=256.0)
    counters = {"iter": 7, "clips_seen": 70}
    saver = Checkpointer(
        model, str(tmp_path), optimizer=opt, scaler=scaler, rng=RNGState(), hook=Counter(3),
        trainer=StateFunctions(lambda: dict(counters), None, checkpoint_key="extra"),
    )  # fmt: skip
    _seed(5)
    path = saver.save("checkpoint_epoch_00002", epoch=1, cfg="cfg text")
    expected = (random.random(), np.random.rand(), torch.rand(1))
    assert path == str(tmp_path / "checkpoint_epoch_00002.pyth")
    raw = torch.load(path, weights_only=True)
    assert {"model_state", "optimizer_state", "scaler_state", "rng_state", "hook_state"} <= set(raw)
    assert raw["extra"] == counters and raw["epoch"] == 1 and raw["cfg"] == "cfg text"
    assert saver.has_checkpoint() and saver.get_checkpoint_file() == path

    _seed(9)
    fresh = Net()
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    fresh_scaler = torch.amp.GradScaler("cpu", init_scale=2.0)
    restored = {}
    loader = Checkpointer(
        fresh, str(tmp_path), optimizer=fresh_opt, scaler=fresh_scaler, rng=RNGState(),
        hook=Counter(), trainer=StateFunctions(dict, restored.update, checkpoint_key="extra"),
    )  # fmt: skip
    extras = loader.load(path)
    assert extras["epoch"] == 1 and extras["cfg"] == "cfg text"
    assert _same_weights(model, fresh)
    assert torch.equal(
        fresh_opt.state[fresh.conv.weight]["momentum_buffer"],
        opt.state[model.conv.weight]["momentum_buffer"],
    )
    assert fresh_scaler.state_dict()["scale"] == 256.0
    assert loader.checkpointables["hook"].n == 3 and restored == counters
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected

    # Only the named checkpointables are restored.
    hook = Counter()
    Checkpointer(Net(), str(tmp_path), hook=hook, optimizer=fresh_opt).load(path, ["optimizer"])
    assert hook.n == 0


def test_checkpointer_resume_picks_newest_readable(tmp_path, logs):
    model, opt = _trained()
    ckpt = Checkpointer(model, str(tmp_path), optimizer=opt)
    ckpt.save_epoch(0, cfg="")
    mid = ckpt.save_epoch(1, iteration=3, resume={"totals": {"loss": 1.5}})
    assert os.path.basename(mid) == "checkpoint_epoch_00002_iter_000003.pyth"
    bad = tmp_path / "checkpoint_epoch_00003.pyth"
    bad.write_bytes(b"PK\x03\x04 not a whole zip")
    # Newest first: epoch 3's file (unreadable), then the mid-epoch file of epoch 2.
    assert ckpt.get_all_checkpoint_files()[-2:] == [mid, str(bad)]

    fresh = Net()
    loader = Checkpointer(fresh, str(tmp_path), optimizer=torch.optim.SGD(fresh.parameters(), 0.1))
    extras = loader.resume_or_load(str(tmp_path / "ignored.pyth"), resume=True)
    assert loader.resumed and loader.loaded_from == mid and loader.skipped == [str(bad)]
    assert extras["epoch"] == 0  # the last finished epoch; PySlowFast restarts epoch 2
    assert extras["extra"]["resume"] == {"totals": {"loss": 1.5}, "epoch": 1, "iter": 3}
    assert start_position(extras, resumed=True) == (1, 3)
    assert _same_weights(model, fresh)
    # A later full save removes the superseded mid-epoch file.
    os.unlink(bad)
    ckpt.save_epoch(1, cfg="")
    assert [os.path.basename(p) for p in ckpt.get_all_checkpoint_files()] == [
        "checkpoint_epoch_00001.pyth", "checkpoint_epoch_00002.pyth"
    ]  # fmt: skip


def test_checkpointer_interrupted_save_keeps_previous_file(tmp_path, monkeypatch):
    model, opt = _trained(seed=0)
    ckpt = Checkpointer(model, str(tmp_path), optimizer=opt)
    path = ckpt.save("checkpoint_epoch_00001", epoch=0)
    before = Path(path).read_bytes()

    def interrupted(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 a part")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    newer, newer_opt = _trained(seed=1)
    with pytest.raises(KeyboardInterrupt):
        Checkpointer(newer, str(tmp_path), optimizer=newer_opt).save("checkpoint_epoch_00001")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["checkpoint_epoch_00001.pyth"]
    assert Path(path).read_bytes() == before
    fresh = Net()
    Checkpointer(fresh, str(tmp_path)).resume_or_load("", resume=True)
    assert _same_weights(model, fresh)


def test_pyslowfast_layout_file_loads_both_ways(tmp_path):
    """A file as PySlowFast writes it (no rng_state, extra or split_bn_state) initialises and
    resumes; our files hold what PySlowFast's loader reads, under its names and types."""
    model, opt = _trained()
    cfg = _cfg(tmp_path)
    pyslowfast = {
        "epoch": 4,
        "model_state": model.state_dict(),
        "optimizer_state": opt.state_dict(),
        "cfg": cfg.dump(),
    }
    path = str(tmp_path / "SLOWFAST_8x8_R50.pyth")
    torch.save(pyslowfast, path)
    fresh = Net(norm=SubBatchNorm3d(4, num_splits=2))  # into sub-BN, as multigrid trains
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    ckpt = Checkpointer(fresh, str(tmp_path / "none"), optimizer=fresh_opt, rng=RNGState())
    extras = ckpt.resume_or_load(path, resume=True)
    assert not ckpt.resumed and start_position(extras, resumed=False) == (5, 0)
    assert torch.equal(fresh.bn.bn.running_mean, model.bn.running_mean)
    assert torch.equal(fresh.bn.split_bn.running_var, model.bn.running_var.repeat(2))
    assert fresh_opt.state_dict()["state"].keys() == opt.state_dict()["state"].keys()

    # Ours, read the way PySlowFast reads it: plain keys, strict load, int epoch.
    ours = Checkpointer(fresh, get_checkpoint_dir(str(tmp_path)), optimizer=fresh_opt)
    saved = torch.load(ours.save_epoch(5, cfg=cfg.dump()), map_location="cpu")
    plain = Net()
    plain.load_state_dict(saved["model_state"], strict=True)
    assert torch.equal(plain.bn.running_mean, model.bn.running_mean)
    assert type(saved["epoch"]) is int and saved["epoch"] == 5
    torch.optim.SGD(plain.parameters(), lr=0.1, momentum=0.9).load_state_dict(
        saved["optimizer_state"]
    )


def test_resume_reads_the_directory_once(tmp_path, monkeypatch):
    """Auto-resume searches and reads the checkpoints once per start (it used to run twice)."""
    import slowfast.checkpoint.checkpointer as checkpointer_module

    cfg = _cfg(tmp_path)
    cfg.TRAIN.AUTO_RESUME = True
    calls = []
    real = checkpointer_module.read_newest
    monkeypatch.setattr(checkpointer_module, "read_newest", lambda *a: calls.append(a) or real(*a))
    assert resume_or_load(cfg, build_checkpointer(cfg, Net())) == (0, 0)
    assert len(calls) == 1
    model, opt = _trained()
    save_checkpoint(str(tmp_path), model, opt, 0, cfg)
    calls.clear()
    assert resume_or_load(cfg, build_checkpointer(cfg, Net())) == (1, 0)
    assert len(calls) == 1
