"""``.safetensors`` weights: written and read back exactly, with the config as metadata, and
loaded wherever a checkpoint path is accepted (strict checks, sub-BN layouts as for .pyth)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from slowfast.checkpoint import Checkpointer, CheckpointMismatchError, load_checkpoint
from slowfast.checkpoint.safetensors_file import read_safetensors, write_safetensors
from slowfast.checkpoint.sub_bn import sub_bn_to_bn_state
from slowfast.models import build_model
from tests.models.tiny import clip_inputs, tiny_cfg


def test_tensors_and_config_round_trip_exactly(tmp_path):
    g = torch.Generator().manual_seed(0)
    state = {
        "a.weight": torch.randn(4, 3, 1, 3, 3, generator=g),
        "a.bn.num_batches_tracked": torch.tensor(17),
        "b.half": torch.randn(5, generator=g).to(torch.bfloat16),
        "c.transposed": torch.randn(3, 4, generator=g).t(),  # not contiguous
        "d.numpy": np.arange(6, dtype=np.float64).reshape(2, 3),  # older files hold arrays
    }
    path = str(tmp_path / "w.safetensors")
    write_safetensors(path, state, cfg="MODEL:\n  NUM_CLASSES: 3\n")
    assert os.listdir(tmp_path) == ["w.safetensors"]  # no temporary left beside it
    read = read_safetensors(path)
    assert read["cfg"] == "MODEL:\n  NUM_CLASSES: 3\n"
    assert sorted(read["model_state"]) == sorted(state)
    for key, value in state.items():
        got = read["model_state"][key]
        expected = torch.as_tensor(value)
        assert got.dtype == expected.dtype and torch.equal(got, expected), key
    # Any safetensors reader sees the same: a file of the format, not of this project.
    assert torch.equal(load_file(path)["a.weight"], state["a.weight"])
    with safe_open(path, framework="pt") as f:
        assert f.metadata() == {"format": "pt", "cfg": "MODEL:\n  NUM_CLASSES: 3\n"}


def test_bad_values_and_bad_files_are_named(tmp_path):
    with pytest.raises(TypeError, match=r"model_state\['epoch'\] is a int, not a tensor"):
        write_safetensors(str(tmp_path / "x.safetensors"), {"w": torch.ones(1), "epoch": 3})
    assert not (tmp_path / "x.safetensors").exists()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(ValueError, match=r"bad.safetensors: cannot read a safetensors file"):
        read_safetensors(str(bad))
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        load_checkpoint(str(tmp_path / "missing.safetensors"), torch.nn.Linear(1, 1))


@pytest.mark.parametrize("norm", ["batchnorm", "sub_batchnorm"])
def test_a_slowfast_model_loads_from_safetensors_with_identical_outputs(norm, tmp_path):
    torch.manual_seed(0)
    cfg = tiny_cfg("slowfast", 50, "RESNET.ZERO_INIT_FINAL_BN", "False")
    source = build_model(cfg)
    x = clip_inputs(cfg)
    source(x)  # move the BN statistics away from their initial values
    path = str(tmp_path / "slowfast.safetensors")
    write_safetensors(path, sub_bn_to_bn_state(source.state_dict()), cfg.dump())
    torch.manual_seed(1)
    target = build_model(tiny_cfg("slowfast", 50, "BN.NORM_TYPE", norm, "BN.NUM_SPLITS", "2"))
    optimizer = torch.optim.SGD(target.parameters(), lr=0.1, momentum=0.9)
    # A weights file: no epoch, so the optimizer is left alone (a new training starts).
    extras = Checkpointer(target, "", optimizer=optimizer).load(path)
    assert "epoch" not in extras and extras["cfg"] == cfg.dump()
    assert optimizer.state_dict()["state"] == {}
    source.eval(), target.eval()
    with torch.no_grad():
        torch.testing.assert_close(target(x), source(x), rtol=0, atol=0)


def test_loading_safetensors_is_strict_and_ignores_the_caffe2_type(tmp_path):
    torch.manual_seed(0)
    cfg = tiny_cfg("c2d", 50)
    source = build_model(cfg)
    path = str(tmp_path / "c2d.safetensors")
    write_safetensors(path, source.state_dict())
    target = build_model(cfg)
    Checkpointer(target, "").load(path, checkpoint_type="caffe2")  # read as what it is
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
    state = source.state_dict()
    del state["s2.pathway0_res0.branch2.a.weight"]
    write_safetensors(path, state)
    with pytest.raises(CheckpointMismatchError, match="s2.pathway0_res0.branch2.a.weight"):
        Checkpointer(build_model(cfg), "").load(path)
