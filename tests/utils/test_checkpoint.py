import logging
import os
import pickle
import random

import numpy as np
import pytest
import torch
from torch import nn

from slowfast.config.defaults import get_cfg
from slowfast.config.errors import ConfigError
from slowfast.models.norm import SubBatchNorm3d
from slowfast.utils import checkpoint as cu


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


@pytest.fixture
def logs(caplog):
    root = logging.getLogger("slowfast")
    root.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="slowfast")
    yield caplog
    root.removeHandler(caplog.handler)


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
    path = cu.save_checkpoint(str(tmp_path), model, opt, 4, cfg, extra={"phase": 2})
    assert path == os.path.join(str(tmp_path), "checkpoints", "checkpoint_epoch_00005.pyth")
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert raw["epoch"] == 4 and isinstance(raw["cfg"], str) and "SOLVER" in raw["cfg"]
    assert {"model_state", "optimizer_state", "rng_state", "extra"} <= raw.keys()
    assert "scaler_state" not in raw
    assert os.listdir(os.path.dirname(path)) == ["checkpoint_epoch_00005.pyth"]

    fresh = Net()
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    assert cu.load_checkpoint(path, fresh, optimizer=fresh_opt) == 4
    assert _same_weights(model, fresh)
    buf = fresh_opt.state[fresh.conv.weight]["momentum_buffer"]
    assert torch.equal(buf, opt.state[model.conv.weight]["momentum_buffer"])
    assert cu.get_last_checkpoint(str(tmp_path)) == path and cu.has_checkpoint(str(tmp_path))


def test_scaler_state_round_trip(tmp_path):
    cfg = _cfg(tmp_path)
    model, opt = _trained()
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    path = cu.save_checkpoint(str(tmp_path), model, opt, 0, cfg, scaler=scaler)
    other = torch.amp.GradScaler("cpu", init_scale=8.0)
    cu.load_checkpoint(path, Net(), scaler=other)
    assert other.state_dict()["scale"] == 1024.0


def test_atomic_write_keeps_old_file(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path)
    model, opt = _trained(seed=0)
    path = cu.save_checkpoint(str(tmp_path), model, opt, 0, cfg)
    size = os.path.getsize(path)

    def crash(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(cu.torch, "save", crash)
    newer, newer_opt = _trained(seed=1)
    with pytest.raises(OSError, match="disk full"):
        cu.save_checkpoint(str(tmp_path), newer, newer_opt, 0, cfg)
    with pytest.raises(OSError):
        cu.save_checkpoint(str(tmp_path), newer, newer_opt, 1, cfg)
    monkeypatch.undo()
    assert os.listdir(os.path.dirname(path)) == ["checkpoint_epoch_00001.pyth"]  # no temp left
    assert os.path.getsize(path) == size
    fresh = Net()
    cu.load_checkpoint(path, fresh)
    assert _same_weights(model, fresh)


def test_only_master_saves(tmp_path, monkeypatch):
    model, opt = _trained()
    monkeypatch.setattr(cu.du, "is_master_proc", lambda *a: False)
    assert cu.save_checkpoint(str(tmp_path), model, opt, 0, _cfg(tmp_path)) is None
    assert not cu.has_checkpoint(str(tmp_path))


def test_module_prefix_both_ways(tmp_path):
    cfg = _cfg(tmp_path)
    model, opt = _trained()
    # Saving through a DataParallel wrapper stores keys without "module.".
    path = cu.save_checkpoint(str(tmp_path), nn.DataParallel(model), opt, 0, cfg)
    keys = torch.load(path, weights_only=True)["model_state"].keys()
    assert keys and not any(k.startswith("module.") for k in keys)
    # A plain checkpoint loads into a model whose keys carry the prefix ...
    wrapped = Wrapper(Net())
    cu.load_checkpoint(path, wrapped, data_parallel=False)
    assert _same_weights(model, wrapped.module)
    # ... and a checkpoint with prefixed keys (another code base's DDP save) into a plain model.
    prefixed = str(tmp_path / "prefixed.pyth")
    torch.save({"model_state": Wrapper(model).state_dict(), "epoch": 3}, prefixed)
    fresh = Net()
    assert cu.load_checkpoint(prefixed, fresh) == 3
    assert _same_weights(model, fresh)


def test_head_mismatch_skipped_other_mismatch_fails(tmp_path, logs):
    cfg = _cfg(tmp_path)
    model, opt = _trained(num_classes=3)
    path = cu.save_checkpoint(str(tmp_path), model, opt, 0, cfg)
    finetune = Net(num_classes=5)
    head_before = finetune.head.projection.weight.clone()
    cu.load_checkpoint(path, finetune, epoch_reset=True)
    assert torch.equal(finetune.conv.weight, model.conv.weight)
    assert torch.equal(finetune.head.projection.weight, head_before)
    assert "head.projection.weight: checkpoint (3, 4) vs model (5, 4)" in logs.text

    class Wider(Net):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv3d(2, 4, 3)
            self.extra = nn.Linear(1, 1)

    with pytest.raises(cu.CheckpointMismatchError) as err:
        cu.load_checkpoint(path, Wider())
    msg = str(err.value)
    assert path in msg and "conv.weight: checkpoint (4, 2, 1, 1, 1) vs model (4, 2, 3, 3, 3)" in msg
    assert "missing from the checkpoint (2): extra.weight, extra.bias" in msg
    # Non-strict loading skips the misfits and loads the rest.
    lenient = Wider()
    cu.load_checkpoint(path, lenient, strict=False)
    assert torch.equal(lenient.bn.running_mean, model.bn.running_mean)


def test_unexpected_keys_and_clear_name_pattern(tmp_path):
    model, _ = _trained()
    path = str(tmp_path / "backbone.pyth")
    state = {f"backbone.{k}": v for k, v in model.state_dict().items()}
    torch.save({"model_state": state}, path)
    with pytest.raises(cu.CheckpointMismatchError, match="not in the model"):
        cu.load_checkpoint(path, Net())
    fresh = Net()
    assert cu.load_checkpoint(path, fresh, clear_name_pattern=("backbone.",)) == -1
    assert _same_weights(model, fresh)


def test_sub_bn_stored_as_plain_bn(tmp_path):
    cfg = _cfg(tmp_path)
    torch.manual_seed(0)
    sub = Net(norm=SubBatchNorm3d(4, num_splits=2))
    sub.train()
    sub(torch.randn(4, 2, 2, 3, 3))
    sub.eval()  # aggregates split statistics into bn
    opt = torch.optim.SGD(sub.parameters(), lr=0.1)
    path = cu.save_checkpoint(str(tmp_path), sub, opt, 0, cfg)
    state = torch.load(path, weights_only=True)["model_state"]
    assert "bn.running_mean" in state and not any("split_bn" in k or "bn.bn." in k for k in state)
    assert torch.equal(state["bn.running_mean"], sub.bn.bn.running_mean)

    plain = Net()  # PySlowFast interchange: loads into plain BN
    cu.load_checkpoint(path, plain)
    assert torch.equal(plain.bn.running_var, sub.bn.bn.running_var)
    three = Net(norm=SubBatchNorm3d(4, num_splits=3))  # and into sub-BN with other splits
    cu.load_checkpoint(path, three)
    assert torch.equal(three.bn.bn.running_mean, sub.bn.bn.running_mean)
    assert torch.equal(three.bn.split_bn.running_mean, sub.bn.bn.running_mean.repeat(3))
    assert torch.equal(three.bn.weight, sub.bn.weight)


def test_auto_resume_skips_truncated_newest_and_restores_rng(tmp_path, logs):
    cfg = _cfg(tmp_path)
    model, opt = _trained()
    cu.save_checkpoint(str(tmp_path), model, opt, 0, cfg, extra={"phase": 0})
    _seed(1)
    cu.save_checkpoint(str(tmp_path), model, opt, 1, cfg, extra={"phase": 1})
    expected = (random.random(), np.random.rand(), torch.rand(1))
    newest = cu.save_checkpoint(str(tmp_path), model, opt, 2, cfg)
    with open(newest, "r+b") as f:
        f.truncate(os.path.getsize(newest) // 2)

    _seed(9)
    fresh = Net()
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    info = cu.auto_resume(cfg, fresh, fresh_opt)
    assert info.path.endswith("checkpoint_epoch_00002.pyth") and info.start_epoch == 2
    assert info.extra == {"phase": 1} and info.skipped == [newest]
    assert f"Skipping unreadable checkpoint {newest}" in logs.text
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected
    assert _same_weights(model, fresh)

    cfg.TRAIN.AUTO_RESUME = True
    assert cu.load_train_checkpoint(cfg, Net(), None) == 2


def test_all_checkpoints_unreadable_is_an_error(tmp_path):
    cfg = _cfg(tmp_path)
    os.makedirs(cu.get_checkpoint_dir(str(tmp_path)))
    with open(cu.get_path_to_checkpoint(str(tmp_path), 1), "wb") as f:
        f.write(b"garbage")
    with pytest.raises(RuntimeError, match="none of the 1 checkpoints"):
        cu.load_train_checkpoint(cfg, Net(), None)


def test_load_train_checkpoint_from_file(tmp_path):
    cfg = _cfg(tmp_path / "job")
    model, opt = _trained()
    init = str(tmp_path / "init.pyth")
    torch.save({"model_state": model.state_dict(), "epoch": 7}, init)
    cfg.TRAIN.CHECKPOINT_FILE_PATH = init
    fresh = Net()
    assert cu.load_train_checkpoint(cfg, fresh, None) == 8
    assert _same_weights(model, fresh)
    cfg.TRAIN.CHECKPOINT_EPOCH_RESET = True
    assert cu.load_train_checkpoint(cfg, Net(), None) == 0
    cfg.TRAIN.CHECKPOINT_FILE_PATH = str(tmp_path / "nope.pyth")
    with pytest.raises(ConfigError, match=r"TRAIN.CHECKPOINT_FILE_PATH.*nope\.pyth"):
        cu.load_train_checkpoint(cfg, Net(), None)
    cfg.TRAIN.CHECKPOINT_FILE_PATH = ""
    assert cu.load_train_checkpoint(cfg, Net(), None) == 0


def test_extra_must_be_plain(tmp_path):
    model, opt = _trained()
    with pytest.raises(TypeError, match=r"extra\['rates'\] is a ndarray"):
        cu.save_checkpoint(
            str(tmp_path), model, opt, 0, _cfg(tmp_path), extra={"rates": np.ones(2)}
        )


def test_checkpoint_and_eval_epochs():
    cfg = get_cfg()
    cfg.SOLVER.MAX_EPOCH = 20
    cfg.TRAIN.CHECKPOINT_PERIOD = 5
    cfg.TRAIN.EVAL_PERIOD = 3
    assert [e for e in range(20) if cu.is_checkpoint_epoch(cfg, e)] == [4, 9, 14, 19]
    assert [e for e in range(20) if cu.is_eval_epoch(cfg, e)] == [2, 5, 8, 11, 14, 17, 19]
    assert [e for e in range(20) if cu.is_eval_epoch(cfg, e, {3, 7})] == [3, 7, 19]
    # PySlowFast's schedule form: phases ending at epochs 6 and 20, EVAL_FREQ 3.
    cfg.MULTIGRID.EVAL_FREQ = 3
    schedule = [(0, 8, 224, 6), (1, 16, 224, 20)]
    got = [e for e in range(20) if cu.is_checkpoint_epoch(cfg, e, schedule)]
    assert got == [2, 5, 9, 14, 19]  # phase 1: period 3, phase 2: period 5


class C2Net(nn.Module):
    """A stem and a head under PySlowFast's names, which the Caffe2 name rules know."""

    def __init__(self, t=1, num_classes=3, norm=None):
        super().__init__()
        self.s1 = nn.Module()
        self.s1.pathway0_stem = nn.Module()
        self.s1.pathway0_stem.conv = nn.Conv3d(3, 4, (t, 3, 3), bias=False)
        self.s1.pathway0_stem.bn = norm or nn.BatchNorm3d(4)
        self.head = nn.Module()
        self.head.projection = nn.Linear(4, num_classes)


def test_caffe2_weights(tmp_path, logs):
    from slowfast.utils.c2_model_loading import state_dict_to_caffe2_blobs

    torch.manual_seed(0)
    source = C2Net()
    source.s1.pathway0_stem.bn.running_mean.normal_()
    pkl = str(tmp_path / "c2.pkl")
    with open(pkl, "wb") as f:
        pickle.dump({"blobs": state_dict_to_caffe2_blobs(source.state_dict())}, f)
    fresh = C2Net()
    assert cu.load_checkpoint(pkl, fresh, convert_from_caffe2=True) == -1
    for key, value in source.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(fresh.state_dict()[key], value), key
    finetune = C2Net(num_classes=7)
    cu.load_checkpoint(pkl, finetune, convert_from_caffe2=True)
    assert torch.equal(finetune.s1.pathway0_stem.conv.weight, source.s1.pathway0_stem.conv.weight)
    assert "head.projection.weight: checkpoint (3, 4) vs model (7, 4)" in logs.text


def test_inflation_from_2d_weights(tmp_path):
    torch.manual_seed(0)
    state = C2Net().state_dict()
    state["s1.pathway0_stem.conv.weight"] = state["s1.pathway0_stem.conv.weight"][:, :, 0]
    path = str(tmp_path / "r50_2d.pyth")
    torch.save({"model_state": state}, path)
    video = C2Net(t=3)
    assert cu.load_checkpoint(path, video, inflation=True) == -1
    kernel = state["s1.pathway0_stem.conv.weight"]
    expected = kernel.unsqueeze(2).repeat(1, 1, 3, 1, 1) / 3
    assert torch.allclose(video.s1.pathway0_stem.conv.weight, expected)
    assert torch.equal(video.head.projection.bias, state["head.projection.bias"])


def test_inflation_of_torchvision_weights_into_sub_bn(tmp_path):
    torch.manual_seed(0)
    state = {
        "conv1.weight": torch.randn(4, 3, 3, 3),
        "bn1.weight": torch.rand(4),
        "bn1.bias": torch.rand(4),
        "bn1.running_mean": torch.rand(4),
        "bn1.running_var": torch.rand(4),
        "layer1.0.conv1.weight": torch.randn(4, 4, 1, 1),  # not in this small model
        "fc.weight": torch.randn(1000, 4),
    }
    path = str(tmp_path / "resnet_tv.pth")
    torch.save(state, path)  # a bare torchvision state dict
    video = C2Net(t=3, norm=SubBatchNorm3d(4, num_splits=2))
    head_before = video.head.projection.weight.clone()
    cu.load_checkpoint(path, video, inflation=True)
    bn = video.s1.pathway0_stem.bn
    assert torch.equal(bn.weight, state["bn1.weight"])
    assert torch.equal(bn.bn.running_mean, state["bn1.running_mean"])
    assert torch.equal(bn.split_bn.running_var, state["bn1.running_var"].repeat(2))
    expected = state["conv1.weight"].unsqueeze(2).repeat(1, 1, 3, 1, 1) / 3
    assert torch.allclose(video.s1.pathway0_stem.conv.weight, expected)
    assert torch.equal(video.head.projection.weight, head_before)
