import importlib.util
import json
import os

import numpy as np
import pytest
from matplotlib.image import imread

from sftools.curves import parse_json_stats, plot_runs, read_run, train_loss, val_metric

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _line(stats):
    return f"[11/21 12:00:00][INFO] slowfast.engine.trainer:42: json_stats: {json.dumps(stats)}\n"


def _write_run(directory, multi_label=False, loss0=2.0):
    os.makedirs(directory, exist_ok=True)
    lines = ["[11/21 12:00:00][INFO] slowfast.engine.trainer:10: Start training\n"]
    for epoch in (1, 2):
        for it in (2, 4):
            loss = loss0 - 0.25 * ((epoch - 1) * 2 + it / 2)
            stats = {"_type": "train_iter", "epoch": epoch, "iter": it, "iters": 4}
            stats.update(loss=loss, lr=0.1, elapsed_s=900.0 * ((epoch - 1) * 4 + it))
            lines.append(_line(stats))
        lines.append(_line({"_type": "train_epoch", "epoch": epoch, "loss": 1.0, "eta": "0:01:00"}))
        val = {"_type": "val_epoch", "epoch": epoch, "elapsed_s": 3600.0 * epoch * 2}
        val.update({"map": 0.2 * epoch} if multi_label else {"top1_err": 80.0 - 10 * epoch})
        lines.append(_line(val))
    lines.append('[11/21 12:00:00][INFO] x:1: json_stats: {"_type": "train_iter", "epo')
    with open(os.path.join(directory, "stdout.log"), "w") as f:
        f.writelines(lines)


def test_parse_lines():
    assert parse_json_stats(_line({"a": 1})) == {"a": 1}
    assert parse_json_stats("json_stats: {broken") is None
    assert parse_json_stats("plain text") is None


def test_read_run_series(tmp_path):
    _write_run(tmp_path / "run_a")
    run = read_run(str(tmp_path / "run_a"))
    assert run.name == "run_a" and run.bad_lines == 1
    assert [len(run.records[t]) for t in ("train_iter", "train_epoch", "val_epoch")] == [4, 2, 2]
    loss = train_loss(run)
    assert loss.epochs == [0.5, 1.0, 1.5, 2.0]
    assert loss.values == [1.75, 1.5, 1.25, 1.0]
    assert loss.hours == [0.5, 1.0, 1.5, 2.0]
    key, val = val_metric(run)
    assert key == "top1_err" and val.epochs == [1.0, 2.0] and val.values == [70.0, 60.0]
    assert val.hours == [2.0, 4.0]


def test_plot_several_runs(tmp_path):
    _write_run(tmp_path / "baseline")
    _write_run(tmp_path / "multigrid", multi_label=True, loss0=3.0)
    runs = [str(tmp_path / "baseline"), str(tmp_path / "multigrid")]
    out = plot_runs(runs, str(tmp_path / "c.png"))
    assert out == str(tmp_path / "c.png")
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    image = imread(out)
    assert image.shape[:2] == (800, 1200) and float(np.std(image)) > 0.05


def test_missing_log_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"empty/stdout\.log does not exist"):
        read_run(str(tmp_path / "empty"))


def test_tool(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "plot_curves", os.path.join(ROOT, "tools", "plot_curves.py")
    )
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    _write_run(tmp_path / "run")
    assert tool.main([str(tmp_path / "run")]) == 0
    expected = os.path.join(str(tmp_path / "run"), "curves.png")
    assert capsys.readouterr().out.strip() == expected and os.path.getsize(expected) > 10000
    assert tool.main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.png")]) == 1
    assert "nowhere/stdout.log does not exist" in capsys.readouterr().err
