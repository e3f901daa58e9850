"""Tiny synthetic datasets (made once per test session) and a helper that runs tools/run_net.py
in-process and returns the json_stats records it logged.
"""

import os
import sys

import pytest

from sftools.curves import parse_json_stats
from sftools.torchrun import RUN_NET, TINY_CFG, TINY_MODEL, tiny_run_args
from slowfast.datasets.synthetic import make_dataset
from slowfast.engine.cli import main as run_net_main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def datasets(tmp_path_factory):
    """{"kinetics": info, "ssv2": info, "charades": info} of tiny generated datasets."""
    root = tmp_path_factory.mktemp("engine_data")
    out = {}
    for fmt, splits, classes in (
        ("kinetics", {"train": 24, "val": 8, "test": 8}, 4),
        ("kinetics_mg", {"train": 40, "val": 8}, 4),
        ("ssv2", {"train": 24, "val": 8}, 4),
        ("charades", {"train": 24, "val": 8}, 4),
    ):
        out[fmt] = make_dataset(
            fmt.split("_")[0],
            str(root / fmt),
            classes,
            splits,
            seed=1,
            size=(48, 40),
            fps=15,
            seconds=1.4,
        )
    return out


def records(output_dir, kind=None):
    """The json_stats records of OUTPUT_DIR/stdout.log (optionally of one ``_type``)."""
    out = []
    with open(os.path.join(output_dir, "stdout.log")) as f:
        for line in f:
            rec = parse_json_stats(line)
            if rec is not None and (kind is None or rec.get("_type") == kind):
                out.append(rec)
    return out


def run_net(info, output_dir, *opts, cfg=TINY_CFG):
    """Run tools/run_net.py's main on dataset ``info`` with extra KEY VALUE ``opts``."""
    argv = ["--cfg", cfg, *info["overrides"], *TINY_MODEL, "OUTPUT_DIR", str(output_dir), *opts]
    return run_net_main([str(a) for a in argv])


def run_net_command(info, out, *opts) -> list[str]:
    """The command line of ``tools/run_net.py`` on the tiny model and dataset ``info``."""
    return [sys.executable, RUN_NET, *tiny_run_args(info["overrides"], out, *opts)]
