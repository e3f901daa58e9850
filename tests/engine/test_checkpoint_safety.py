"""tools/run_net.py refuses a checkpoint that would run code when loaded (exit status 2, one
line naming the file, the refused object and the opt-in) and never runs it; a ``.safetensors``
file of the same weights is tested like a ``.pyth``."""

from __future__ import annotations

import os

import pytest
import torch

from slowfast.checkpoint.safe_pickle import TRUST_ENV
from tests.checkpoint.c2_writer import state_dict_to_caffe2_blobs
from tests.checkpoint.hostile import write_hostile_pkl, write_hostile_pyth
from tests.engine.conftest import records, run_net


@pytest.fixture
def trained(datasets, tmp_path_factory):
    """OUTPUT_DIR of a one-epoch run on the tiny Kinetics set, and its checkpoint's state."""
    out = tmp_path_factory.mktemp("trained")
    assert run_net(datasets["kinetics"], out, "SOLVER.MAX_EPOCH", "1", "TEST.ENABLE", "False") == 0
    path = out / "checkpoints" / "checkpoint_epoch_00001.pyth"
    return out, torch.load(path, weights_only=True)


@pytest.mark.parametrize("kind", ["pytorch", "caffe2"])
def test_run_net_refuses_a_hostile_checkpoint(
    kind, datasets, trained, tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    _, saved = trained
    marker = str(tmp_path / "MARKER")
    path = str(tmp_path / ("evil.pkl" if kind == "caffe2" else "evil.pyth"))
    if kind == "caffe2":
        write_hostile_pkl(path, state_dict_to_caffe2_blobs(saved["model_state"]), marker)
    else:
        write_hostile_pyth(path, saved["model_state"], marker)
    opts = ["TRAIN.ENABLE", "False", "TEST.CHECKPOINT_FILE_PATH", path]
    with pytest.raises(SystemExit) as exit_info:
        run_net(datasets["kinetics"], tmp_path / "out", *opts, "TEST.CHECKPOINT_TYPE", kind)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: {path}: refused to load: the file names posix.system")
    assert f"{TRUST_ENV}={path}" in err
    assert not os.path.exists(marker)


def test_run_net_tests_safetensors_weights_as_it_tests_the_pyth(datasets, trained, tmp_path):
    from slowfast.checkpoint.safetensors_file import write_safetensors

    out, saved = trained
    pyth = str(out / "checkpoints" / "checkpoint_epoch_00001.pyth")
    st = str(tmp_path / "weights.safetensors")
    write_safetensors(st, saved["model_state"], saved["cfg"])
    top1 = {}
    for name, path in (("pyth", pyth), ("safetensors", st)):
        run_dir = tmp_path / name
        opts = ["TRAIN.ENABLE", "False", "TEST.CHECKPOINT_FILE_PATH", path]
        assert run_net(datasets["kinetics"], run_dir, *opts) == 0
        (final,) = records(run_dir, "test_final")
        top1[name] = final["top1_acc"]
    assert top1["safetensors"] == top1["pyth"]
