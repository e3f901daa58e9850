"""Value rules at the edge: under ``tools/run_net.py --dry-run`` every value a run cannot use
stops with exit status 2 and one line naming the key, the value and what is allowed; legal but
suspicious values get one warning line; every shipped config passes without a warning."""

from __future__ import annotations

import glob
import logging
import os

import pytest

from slowfast.config import ConfigError, build_cfg
from slowfast.config.values import VALUE_RULES, suspicious
from slowfast.engine.cli import main
from slowfast.engine.config_check import check_cfg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MULTIGRID = os.path.join(ROOT, "configs", "Kinetics", "SLOWFAST_8x8_R50_stepwise_multigrid.yaml")

# (key, bad value, the message's tail): the values the issue found accepted, and their kin.
BAD = [
    ("DATA.TRAIN_CROP_SIZE", "0", "got 0; must be a positive integer"),
    ("DATA.TEST_CROP_SIZE", "-1", "got -1; must be a positive integer"),
    ("MODEL.NUM_CLASSES", "0", "got 0; must be a positive integer"),
    ("MULTIGRID.LONG_CYCLE_FACTORS", "[]", "got []; must be a non-empty list of (frames, crop)"),
    ("MULTIGRID.LONG_CYCLE_FACTORS", "[(0.5, 2.0)]", "got [[0.5, 2.0]]; must be a non-empty"),
    ("MULTIGRID.SHORT_CYCLE_FACTORS", "[2.0, 0.5]", "got [2.0, 0.5]; must be crop factors"),
    ("SOLVER.MOMENTUM", "2.0", "got 2.0; must be a number in [0, 1)"),
    ("DATA_LOADER.NUM_WORKERS", "-1", "got -1; must be an integer >= 0"),
    ("TRAIN.EVAL_PERIOD", "0", "got 0; must be a positive integer"),
    ("TRAIN.CHECKPOINT_PERIOD", "0", "got 0; must be a positive integer"),
    ("SOLVER.MAX_EPOCH", "0", "got 0; must be a positive integer"),
    ("SOLVER.WEIGHT_DECAY", "-1.0", "got -1.0; must be a number >= 0"),
    ("MODEL.DROPOUT_RATE", "1.5", "got 1.5; must be a number in [0, 1)"),
    ("BN.NUM_SPLITS", "0", "got 0; must be a positive integer"),
    ("BN.EPSILON", "0.0", "got 0.0; must be a number > 0"),
    ("BN.MOMENTUM", "1.5", "got 1.5; must be a number in [0, 1]"),
    ("SOLVER.GAMMA", "0.0", "got 0.0; must be a number > 0"),
    ("DATA.MEAN", "[0.5]", "got [0.5]; must be 3 numbers, one per input channel"),
    ("DATA.STD", "[0.0, 1.0, 1.0]", "got [0.0, 1.0, 1.0]; must be positive numbers"),
    ("MULTIGRID.BN_BASE_SIZE", "0", "got 0; must be a positive integer"),
    ("MULTIGRID.EVAL_FREQ", "0", "got 0; must be a positive integer"),
    ("DATA.TARGET_FPS", "0", "got 0; must be a number > 0"),
    ("DATA.DECODED_CACHE_MB", "-5", "got -5; must be an integer >= 0"),
    ("RNG_SEED", "-1", "got -1; must be an integer in [0, 2**32)"),
    ("SLOWFAST.BETA_INV", "0", "got 0; must be a positive integer"),
    ("SOLVER.WARMUP_EPOCHS", "-1.0", "got -1.0; must be a number >= 0"),
    ("SOLVER.BASE_LR", "-0.1", "got -0.1; must be a number >= 0"),
    ("LOG_PERIOD", "0", "got 0; must be a positive integer"),
]


@pytest.mark.parametrize("key,value,tail", BAD, ids=[f"{k}={v}" for k, v, _ in BAD])
def test_dry_run_stops_on_a_value_no_run_can_use(key, value, tail, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--cfg", MULTIGRID, "--dry-run", key, value])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # stopped before the config was printed or a model built
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(f"error: {key}: {tail}")


def test_the_schedule_is_checked_at_the_edge_too():
    """What only the multigrid schedule knows (the Slow pathway needs whole frames at every
    long-cycle stage) also stops the dry run."""
    cfg = build_cfg([MULTIGRID], ["DATA.NUM_FRAMES", "40", "SLOWFAST.ALPHA", "4"])
    with pytest.raises(ConfigError, match=r"MULTIGRID.LONG_CYCLE_FACTORS: a long-cycle stage"):
        check_cfg(cfg)


def test_every_rule_key_exists_and_its_default_passes():
    cfg = build_cfg([], [])
    for key, (test, _) in VALUE_RULES.items():
        node = cfg
        for part in key.split("."):
            node = node[part]
        assert test(node), key


@pytest.mark.parametrize(
    "opts,expected",
    [
        (
            ["SOLVER.WARMUP_EPOCHS", "300.0", "SOLVER.MAX_EPOCH", "10"],
            "SOLVER.WARMUP_EPOCHS (300.0)",
        ),
        (["SOLVER.BASE_LR", "0.0"], "SOLVER.BASE_LR is 0"),
        (["MULTIGRID.SHORT_CYCLE", "True", "MULTIGRID.SHORT_CYCLE_FACTORS", "[0.5]"], "has 1"),
        (["MULTIGRID.SHORT_CYCLE", "True", "MULTIGRID.SHORT_CYCLE_FACTORS", "[0.7, 0.5]"], "not"),
        (["TRAIN.EVAL_PERIOD", "500", "SOLVER.MAX_EPOCH", "10"], "TRAIN.EVAL_PERIOD (500)"),
    ],
)
def test_a_suspicious_value_gives_one_warning_line(opts, expected, caplog):
    cfg = build_cfg([], opts)
    caplog.set_level(logging.WARNING, logger="slowfast.config.values")
    check_cfg(cfg)
    lines = [r.getMessage() for r in caplog.records if r.name == "slowfast.config.values"]
    assert len(lines) == 1 and expected in lines[0] and "\n" not in lines[0]


def test_shipped_configs_raise_no_warning():
    files = glob.glob(os.path.join(ROOT, "configs", "**", "*.yaml"), recursive=True)
    assert len(files) > 30
    assert {f: suspicious(build_cfg([f])) for f in files if suspicious(build_cfg([f]))} == {}


def test_a_nan_from_a_yaml_file_is_refused(tmp_path):
    path = tmp_path / "nan.yaml"
    path.write_text("SOLVER:\n  BASE_LR: .nan\n")
    with pytest.raises(ConfigError, match=r"SOLVER.BASE_LR: got nan; must be a number >= 0"):
        check_cfg(build_cfg([str(path)]))
