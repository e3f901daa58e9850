"""tools/convert_checkpoint.py: .pyth and Caffe2 .pkl weights to .safetensors and back, with
identical model outputs; inputs checked against --cfg; bad inputs refused by name."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import pytest
import torch

from sftools import convert
from slowfast.checkpoint import Checkpointer, CheckpointMismatchError, UnsafeCheckpointError
from slowfast.checkpoint.safe_pickle import TRUST_ENV
from slowfast.checkpoint.safetensors_file import read_safetensors
from slowfast.config.errors import ConfigError
from slowfast.models import build_model
from tests.checkpoint.c2_writer import state_dict_to_caffe2_blobs
from tests.checkpoint.hostile import write_hostile_pyth
from tests.models.tiny import clip_inputs, tiny_cfg, tiny_opts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "convert_checkpoint.py")


@pytest.fixture
def source(tmp_path):
    """A tiny I3D with moved BN statistics, its input, and a training checkpoint of it."""
    torch.manual_seed(0)
    cfg = tiny_cfg("i3d", 50, "RESNET.ZERO_INIT_FINAL_BN", "False")
    model = build_model(cfg)
    x = clip_inputs(cfg)
    model(x)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ckpt = Checkpointer(model, str(tmp_path / "ckpts"), optimizer=optimizer)
    path = ckpt.save_epoch(4, cfg=cfg.dump())
    return model.eval(), x, path, cfg


def _outputs(path, cfg, x, **load):
    torch.manual_seed(1)
    model = build_model(cfg)
    Checkpointer(model, "").load(path, **load)
    with torch.no_grad():
        return model.eval()(x)


def test_pyth_to_safetensors_and_back_gives_identical_outputs(source, tmp_path, capsys):
    model, x, pyth, cfg = source
    with torch.no_grad():
        expected = model(x)
    st = str(tmp_path / "i3d.safetensors")
    assert convert.main([pyth, st]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {st}: ")
    assert read_safetensors(st)["cfg"] == cfg.dump()  # the checkpoint's own config
    back = str(tmp_path / "back.pyth")
    assert convert.main([st, back]) == 0
    saved = torch.load(back, weights_only=True)
    assert set(saved) == {"model_state", "cfg"}  # weights only: a new training starts from it
    for path in (st, back):
        torch.testing.assert_close(_outputs(path, cfg, x), expected, rtol=0, atol=0)


def test_caffe2_to_safetensors_needs_and_uses_the_config(source, tmp_path):
    model, x, _, cfg = source
    pkl = str(tmp_path / "i3d.pkl")
    with open(pkl, "wb") as f:
        pickle.dump({"blobs": state_dict_to_caffe2_blobs(model.state_dict())}, f, protocol=2)
    st = str(tmp_path / "i3d.safetensors")
    with pytest.raises(ConfigError, match=r"i3d.pkl: a Caffe2 .pkl holds blob names; give --cfg"):
        convert.convert(pkl, st)
    cfg_file, opts = tiny_opts("i3d", 50, "RESNET.ZERO_INIT_FINAL_BN", "False")
    done = convert.convert(pkl, st, cfg_file, opts)
    assert done["cfg_from"] == cfg_file and done["tensors"] == len(
        [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    )
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(_outputs(st, cfg, x), expected, rtol=0, atol=0)


def test_an_input_that_does_not_fit_the_config_is_not_written(source, tmp_path):
    _, _, pyth, _ = source
    cfg_file, opts = tiny_opts("i3d", 50, "MODEL.NUM_CLASSES", "5")
    st = str(tmp_path / "i3d.safetensors")
    with pytest.raises(CheckpointMismatchError, match=r"other shape .*head.projection.weight"):
        convert.convert(pyth, st, cfg_file, opts)
    assert not os.path.exists(st)


def test_bad_requests_are_refused_by_name(source, tmp_path, monkeypatch):
    _, _, pyth, _ = source
    with pytest.raises(ConfigError, match=r"out.bin: the output's suffix names its format"):
        convert.convert(pyth, str(tmp_path / "out.bin"))
    with pytest.raises(ConfigError, match="would overwrite the input"):
        convert.convert(pyth, pyth)
    monkeypatch.delenv(TRUST_ENV, raising=False)
    evil, marker = str(tmp_path / "evil.pyth"), str(tmp_path / "MARKER")
    write_hostile_pyth(evil, torch.load(pyth, weights_only=True)["model_state"], marker)
    with pytest.raises(UnsafeCheckpointError, match="evil.pyth: refused to load"):
        convert.convert(evil, str(tmp_path / "evil.safetensors"))
    assert not os.path.exists(marker) and not os.path.exists(tmp_path / "evil.safetensors")


def test_the_script_reports_a_user_error_in_one_line(tmp_path):
    pkl = tmp_path / "model.pkl"
    with open(pkl, "wb") as f:
        pickle.dump({"blobs": {}}, f, protocol=2)
    run = subprocess.run(
        [sys.executable, TOOL, str(pkl), str(tmp_path / "model.safetensors")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == (
        f"error: {pkl}: a Caffe2 .pkl holds blob names; give --cfg so that the model it builds "
        "can name and shape them"
    )
