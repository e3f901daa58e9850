"""tools/multigrid_schedule.py and the configs it reads."""

import glob
import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.multigrid import build_schedule
from tests.config_keys import flatten

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "multigrid_schedule.py")
KINETICS = "configs/Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.yaml"
MULTIGRID_CONFIGS = sorted(
    glob.glob(os.path.join(ROOT, "configs/Kinetics/SLOWFAST_8x8_R50_*multigrid*.yaml"))
    + glob.glob(os.path.join(ROOT, "configs/SSv2/SLOWFAST_16x8_R50_multigrid.yaml"))
    + glob.glob(os.path.join(ROOT, "configs/Charades/SLOWFAST_16x8_R50_multigrid.yaml"))
)

spec = importlib.util.spec_from_file_location("multigrid_schedule_tool", TOOL)
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


def run_tool(*args):
    return subprocess.run(
        [sys.executable, TOOL, "--cfg", KINETICS, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_acceptance_command():
    out = run_tool()
    assert "iteration phases" in out and "358.50 epochs in 13 phases" in out
    assert "saving: 3.27x in compute" in out
    assert "SOLVER.MAX_EPOCH 359" in out
    rows = [line for line in out.splitlines() if re.match(r"\s*\d+\s+[\d.]+-[\d.]+ ", line)]
    assert len(rows) == 13 and rows[-1].split()[1] == "345.32-358.50"
    assert rows[-1].split()[-1] == "225,620-275,118"  # iterations for Kinetics-400
    # Against PySlowFast's whole-epoch rounding: within one epoch at every boundary.
    assert "largest gap: 0.50 epochs" in out


def test_pyslowfast_rules_give_pyslowfast_numbers():
    out = run_tool("MULTIGRID.PHASE_UNIT", "epochs", "MULTIGRID.FINE_TUNE_SHORT_CYCLE", "True")
    assert "whole-epoch phases" in out and "358 epochs in 13 phases" in out
    assert "saving: 3.43x in compute" in out
    assert "SOLVER.MAX_EPOCH 358" in out
    rows = [line for line in out.splitlines() if re.match(r"\s*\d+\s+\d+-\d+ ", line)]
    assert len(rows) == 13 and rows[-1].split()[1] == "329-358"


def test_json_png_and_overrides(tmp_path, capsys):
    out_json, out_png = tmp_path / "s.json", tmp_path / "s.png"
    argv = [
        "--cfg",
        os.path.join(ROOT, KINETICS),
        "--json",
        str(out_json),
        "--png",
        str(out_png),
        "--num-videos",
        "1000",
        "MULTIGRID.EPOCH_FACTOR",
        "2.0",
    ]
    assert tool.main(argv) == 0
    data = json.loads(out_json.read_text())
    assert data["max_epoch"] == pytest.approx(478) and len(data["phases"]) == 13
    assert data["phases"][0]["iterations_per_epoch"] == pytest.approx(1000 / (2048 / 3))
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "478 epochs" in capsys.readouterr().out


def test_config_error_exits_2(capsys):
    argv = [
        "--cfg",
        os.path.join(ROOT, KINETICS),
        "MULTIGRID.LONG_CYCLE",
        "False",
        "MULTIGRID.SINGLE_LONG_CYCLE",
        "True",
    ]
    assert tool.main(argv) == 2
    err = capsys.readouterr().err
    assert "MULTIGRID.SINGLE_LONG_CYCLE" in err


@pytest.mark.parametrize("path", MULTIGRID_CONFIGS, ids=lambda p: os.path.relpath(p, ROOT))
def test_multigrid_configs_load_and_build(path):
    cfg = assert_and_infer_cfg(build_cfg([path]))
    assert cfg.MULTIGRID.LONG_CYCLE or cfg.MULTIGRID.SHORT_CYCLE
    schedule = build_schedule(cfg)
    stretched = cfg.SOLVER.MAX_EPOCH * cfg.MULTIGRID.EPOCH_FACTOR
    assert schedule.max_epoch == pytest.approx(stretched)
    assert abs(build_schedule(cfg, unit="epochs").max_epoch - stretched) <= 0.5 + 1e-9
    assert 1.4 < schedule.compute_saving < 4.0
    # Over its baseline a multigrid config changes only multigrid keys, the test crop and (for
    # the cosine policy) the long-cycle boundaries.
    base = assert_and_infer_cfg(build_cfg([baseline_of(path)]))
    assert build_schedule(base).mode == "off"
    mine, theirs = flatten(cfg), flatten(base)
    changed = {k for k in mine if mine[k] != theirs[k]}
    assert changed - {"DATA.TEST_CROP_SIZE", "SOLVER.STEPS"} <= {
        k for k in mine if k.startswith("MULTIGRID.")
    }


def baseline_of(path):
    """The first file up the _BASE_ chain without "multigrid" in its name."""
    while "multigrid" in os.path.basename(path):
        with open(path) as f:
            path = os.path.join(os.path.dirname(path), yaml.safe_load(f)["_BASE_"])
    return path


def test_all_multigrid_configs_are_covered():
    assert len(MULTIGRID_CONFIGS) == 8
