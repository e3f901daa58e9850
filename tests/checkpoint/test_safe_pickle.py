"""Loading a checkpoint never runs code: hostile ``.pyth`` and Caffe2 ``.pkl`` files are refused
by every reader (and the command they carry never runs), real PySlowFast and Caffe2 files still
load, and a trusted legacy file loads only through the documented opt-in."""

from __future__ import annotations

import argparse
import logging
import os
import pickle

import numpy as np
import pytest
import torch

from slowfast.checkpoint import Checkpointer, UnsafeCheckpointError, load_checkpoint
from slowfast.checkpoint.caffe2 import load_caffe2_blobs
from slowfast.checkpoint.io import read_checkpoint
from slowfast.checkpoint.loader import read_weights
from slowfast.checkpoint.safe_pickle import TRUST_ENV, is_trusted
from slowfast.checkpoint.startup import load_test_weights
from slowfast.config.defaults import get_cfg

from .c2_writer import state_dict_to_caffe2_blobs
from .hostile import py2_pickle_bytes, write_hostile_pkl, write_hostile_pyth
from .test_loader import C2Net


@pytest.fixture(autouse=True)
def no_trust(monkeypatch):
    """Every test starts without the opt-in, whatever the environment of the run."""
    monkeypatch.delenv(TRUST_ENV, raising=False)


@pytest.fixture
def hostile(tmp_path):
    """Paths of hostile files (zip and legacy .pyth, .pkl) for C2Net, and the marker path."""
    torch.manual_seed(0)
    state = C2Net().state_dict()
    marker = str(tmp_path / "MARKER")
    paths = {
        "pyth": str(tmp_path / "model.pyth"),
        "legacy": str(tmp_path / "legacy.pyth"),
        "pkl": str(tmp_path / "model.pkl"),
    }
    write_hostile_pyth(paths["pyth"], state, marker)
    write_hostile_pyth(paths["legacy"], state, marker, legacy=True)
    write_hostile_pkl(paths["pkl"], state_dict_to_caffe2_blobs(state), marker)
    return paths, marker


def _test_cfg(tmp_path, path, kind):
    cfg = get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path / "out")
    cfg.TEST.CHECKPOINT_FILE_PATH = path
    cfg.TEST.CHECKPOINT_TYPE = kind
    return cfg


READERS = {
    "read_checkpoint": lambda p, kind, tmp: read_checkpoint(p),
    "load_caffe2_blobs": lambda p, kind, tmp: load_caffe2_blobs(p),
    "read_weights": lambda p, kind, tmp: read_weights(p, C2Net().state_dict(), kind),
    "Checkpointer.load": lambda p, kind, tmp: Checkpointer(C2Net(), "").load(
        p, checkpoint_type=kind
    ),
    "load_checkpoint": lambda p, kind, tmp: load_checkpoint(
        p, C2Net(), convert_from_caffe2=kind == "caffe2"
    ),
    "load_test_weights": lambda p, kind, tmp: load_test_weights(_test_cfg(tmp, p, kind), C2Net()),
}


# (reader, file): the .pyth reader on .pyth files, the Caffe2 reader on .pkl, the rest on both.
CASES = [
    (reader, which)
    for reader in sorted(READERS)
    for which in ("pyth", "legacy", "pkl")
    if not (reader == "read_checkpoint" and which == "pkl")
    and not (reader == "load_caffe2_blobs" and which != "pkl")
]


@pytest.mark.parametrize("reader,which", CASES)
def test_every_reader_refuses_a_file_that_would_run_code(reader, which, hostile, tmp_path):
    paths, marker = hostile
    kind = "caffe2" if which == "pkl" else "pytorch"
    with pytest.raises(UnsafeCheckpointError) as info:
        READERS[reader](paths[which], kind, tmp_path)
    message = str(info.value)
    assert message.startswith(f"{paths[which]}: refused to load")
    assert "posix.system" in message  # the refused object, by name
    assert f"{TRUST_ENV}={paths[which]}" in message  # and the opt-in
    assert info.value.refused == ["posix.system"]
    assert not os.path.exists(marker)


def test_resume_skips_a_hostile_newest_file_and_never_runs_it(hostile, tmp_path, caplog):
    paths, marker = hostile
    save_dir = tmp_path / "ckpts"
    model = C2Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    good = Checkpointer(model, str(save_dir), optimizer=optimizer).save_epoch(0)
    newest = save_dir / "checkpoint_epoch_00002.pyth"
    os.replace(paths["pyth"], newest)
    ckpt = Checkpointer(C2Net(), str(save_dir), optimizer=optimizer)
    extras = ckpt.resume_or_load("", resume=True)
    assert ckpt.resumed and ckpt.loaded_from == good and extras["epoch"] == 0
    assert ckpt.skipped == [str(newest)]
    os.remove(good)
    with pytest.raises(RuntimeError, match="none of the 1 checkpoints"):
        Checkpointer(C2Net(), str(save_dir), optimizer=optimizer).resume_or_load("", resume=True)
    assert not os.path.exists(marker)


def test_the_opt_in_reads_a_trusted_file_and_says_so(hostile, monkeypatch, logs):
    paths, marker = hostile
    monkeypatch.setenv(TRUST_ENV, os.pathsep.join(["/elsewhere/other.pyth", paths["legacy"]]))
    with pytest.raises(UnsafeCheckpointError):  # not listed
        read_checkpoint(paths["pyth"])
    assert not os.path.exists(marker)
    extras = read_checkpoint(paths["legacy"])
    assert os.path.exists(marker)  # it did what the file said: that is what trusting means
    assert set(extras) == {"epoch", "model_state", "cfg"}
    assert f"reading it with full unpickling, as {TRUST_ENV} trusts it" in logs.text
    assert "legacy.pyth names posix.system" in logs.text


class LegacyExtra:
    """An object an old script might have stored in a checkpoint (harmless, but not data)."""

    def __init__(self, note: str) -> None:
        self.note = note


def test_a_legacy_file_with_objects_loads_only_with_the_opt_in(tmp_path, monkeypatch, logs):
    torch.manual_seed(0)
    source = C2Net()
    pyth, pkl = str(tmp_path / "old.pyth"), str(tmp_path / "old.pkl")
    torch.save({"model_state": source.state_dict(), "args": argparse.Namespace(lr=0.1)}, pyth)
    blobs = state_dict_to_caffe2_blobs(source.state_dict())
    with open(pkl, "wb") as f:
        pickle.dump({"blobs": blobs, "info": LegacyExtra("converted")}, f, protocol=2)
    with pytest.raises(UnsafeCheckpointError, match=r"old.pyth: .* names argparse.Namespace"):
        load_checkpoint(pyth, C2Net())
    with pytest.raises(UnsafeCheckpointError, match=rf"old.pkl: .* names {__name__}.LegacyExtra"):
        load_checkpoint(pkl, C2Net(), convert_from_caffe2=True)
    monkeypatch.setenv(TRUST_ENV, "*")
    for path, caffe2 in ((pyth, False), (pkl, True)):
        fresh = C2Net()
        assert load_checkpoint(path, fresh, convert_from_caffe2=caffe2) == -1
        for key, value in source.state_dict().items():
            if not key.endswith("num_batches_tracked"):
                assert torch.equal(fresh.state_dict()[key], value), (path, key)
    # (The fixture's handler may see each record twice: once by propagation.)
    trusted = sorted({r.getMessage() for r in logs.records if "full unpickling" in r.getMessage()})
    assert len(trusted) == 2 and "old.pkl names" in trusted[0] and "old.pyth names" in trusted[1]
    # A caller can decide for itself, whatever the environment says.
    monkeypatch.delenv(TRUST_ENV)
    assert read_checkpoint(pyth, trusted=True)["args"].lr == 0.1
    with pytest.raises(UnsafeCheckpointError):
        load_caffe2_blobs(pkl, trusted=False)


def test_is_trusted_compares_real_paths(tmp_path):
    target = tmp_path / "a.pyth"
    target.write_bytes(b"")
    link = tmp_path / "link.pyth"
    link.symlink_to(target)
    assert is_trusted(str(link), {TRUST_ENV: str(target)})
    assert is_trusted(str(target), {TRUST_ENV: f"/x.pyth{os.pathsep} {link} "})
    assert is_trusted(str(target), {TRUST_ENV: "*"})
    assert not is_trusted(str(target), {TRUST_ENV: ""})
    assert not is_trusted(str(target), {TRUST_ENV: str(tmp_path / "b.pyth")})
    assert not is_trusted(str(target), {})


@pytest.mark.parametrize("legacy", [False, True])
def test_a_pyslowfast_file_with_numpy_values_loads_without_the_opt_in(tmp_path, legacy, logs):
    """PySlowFast's layout (epoch, model_state, optimizer_state, cfg dump, scaler_state) as
    older tools wrote it: NumPy arrays in the state, a NumPy epoch, legacy serialization."""
    torch.manual_seed(0)
    source = C2Net()
    optimizer = torch.optim.SGD(source.parameters(), lr=0.1, momentum=0.9)
    state = {k: v.numpy() if k.endswith("weight") else v for k, v in source.state_dict().items()}
    data = {
        "epoch": np.int64(4),
        "model_state": state,
        "optimizer_state": optimizer.state_dict(),
        "cfg": get_cfg().dump(),
        "scaler_state": {"scale": 65536.0, "growth_factor": 2.0, "_growth_tracker": 0},
        "best_top1": np.float32(71.5),
        "class_weights": np.ones(3, dtype=np.float64),
    }
    path = str(tmp_path / "SLOWFAST_8x8_R50.pyth")
    torch.save(data, path, _use_new_zipfile_serialization=not legacy)
    read = read_checkpoint(path)
    assert read["epoch"] == 4 and read["best_top1"] == np.float32(71.5)
    assert isinstance(read["model_state"]["head.projection.weight"], torch.Tensor)
    fresh = C2Net()
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    assert load_checkpoint(path, fresh, optimizer=fresh_opt) == 4
    for key, value in source.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    assert "full unpickling" not in logs.text


def test_a_python2_caffe2_file_loads_without_the_opt_in(tmp_path, logs):
    torch.manual_seed(0)
    source = C2Net()
    source.s1.pathway0_stem.bn.running_mean.normal_()
    blobs = {k.encode(): v for k, v in state_dict_to_caffe2_blobs(source.state_dict()).items()}
    blobs[b"model_iter"] = np.int64(1000)
    blobs[b"lr"] = np.float32(0.01)
    raw = py2_pickle_bytes({b"blobs": blobs})
    assert b"numpy.core.multiarray" in raw and b"_codecs" not in raw  # as Python 2 wrote it
    path = tmp_path / "SLOWFAST_4x16_R50.pkl"
    path.write_bytes(raw)
    fresh = C2Net()
    assert load_checkpoint(str(path), fresh, convert_from_caffe2=True) == -1
    for key, value in source.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(fresh.state_dict()[key], value), key
    assert "full unpickling" not in logs.text


def test_a_file_that_is_no_pickle_is_a_read_error_not_a_refusal(tmp_path):
    path = tmp_path / "broken.pkl"
    path.write_bytes(b"\x80\x02}q\x00(X")  # truncated
    with pytest.raises(ValueError, match="broken.pkl: cannot read a Caffe2 pickle") as info:
        load_caffe2_blobs(str(path))
    assert not isinstance(info.value, UnsafeCheckpointError)


def test_a_refusal_logs_no_trusted_read(hostile, caplog):
    """Nothing is logged as read: the refusal is the exception alone."""
    paths, _ = hostile
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UnsafeCheckpointError):
        read_checkpoint(paths["pyth"])
    assert "full unpickling" not in caplog.text
