"""`tools/benchmark.py data --multigrid` and `tools/gpu_check.py --device cpu` on a tiny schedule:
every shape of the schedule gets a row, the speed-ups are computed from the rows."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from sftools.demo import SIZES
from slowfast.datasets.synthetic import make_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
CFG = os.path.join(ROOT, "configs", "Synthetic", "SLOWFAST_demo_multigrid.yaml")
# The tiny demo network and schedule, tiny clips.
TINY = [*SIZES["tiny"].opts, "MODEL.NUM_CLASSES", "4"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("loader_bench") / "kinetics")
    make_dataset(
        "kinetics",
        root,
        4,
        {"train": 6, "val": 2, "test": 2},
        seed=2,
        size=(48, 40),
        fps=15,
        seconds=1.4,
    )
    return root


def _phase_benchmark(*args: str) -> list[str]:
    """``tools/benchmark.py data --multigrid`` on the demo's multigrid config, then ``args``."""
    return [os.path.join(TOOLS, "benchmark.py"), "data", "--multigrid", "--cfg", CFG, *args]


def run_tool(args: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=600, cwd=ROOT, env=env
    )


def test_data_benchmark_multigrid_reports_every_shape_and_the_speedups(data):
    from slowfast.config import build_cfg
    from slowfast.multigrid import build_schedule, init_cfg

    opts = [
        *TINY,
        "DATA.PATH_TO_DATA_DIR",
        data,
        "DATA.PATH_PREFIX",
        data,
        "DATA.DECODED_CACHE_MB",
        "0",
    ]
    proc = run_tool(
        _phase_benchmark(
            "--clips",
            "2",
            "--clips-per-decode",
            "2",
            "--loader",
            "--workers",
            "0",
            "--batches",
            "1",
            "--batch",
            "2",
            *opts,
        )
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    schedule = build_schedule(init_cfg(build_cfg([CFG], opts)))
    shapes = {s.key for p in schedule.phases for s in p.clip_shapes()}
    rows = [ln for ln in out.splitlines() if re.match(r"^\d+x[\d-]+, \d+ \[", ln)]
    assert len(rows) == len(shapes)  # the full shape is one of the schedule's
    assert {"x".join([r.split("x")[0], r.split(", ")[1].split(" ")[0]]) for r in rows} == shapes
    speedups = re.findall(r"loader-bound multigrid speed-up \(([^)]*)\): ([\d.]+)x", out)
    assert [name for name, _ in speedups] == [
        "resize after",
        "at scale",
        "at scale, up to 2 clips per decode",
    ]
    assert all(float(v) > 0 for _, v in speedups)
    assert f"compute saving): {schedule.compute_saving:.2f}x" in out
    # The schedule's ceilings: the pixel one is the compute saving (compute ~ frames x crop^2).
    ceilings = re.search(
        r"ceilings set by the schedule: ([\d.]+)x for a cost per clip, ([\d.]+)x per frame .*"
        r" ([\d.]+)x per pixel .* -> ([\d.]+)x by this model",
        out,
    )
    assert ceilings, out[-2000:]
    clips, frames, pixels, mixed = (float(v) for v in ceilings.groups())
    assert pixels == pytest.approx(schedule.compute_saving, abs=0.01)
    assert clips < 1 < frames < pixels
    assert clips <= mixed <= pixels
    assert "a 3x loader-bound speed-up (one decode per clip) needs per-frame decoding" in out


def test_data_benchmark_reports_a_missing_dataset_as_a_user_error(tmp_path):
    proc = run_tool(
        _phase_benchmark("DATA.PATH_TO_DATA_DIR", str(tmp_path), "DATA.PATH_PREFIX", str(tmp_path))
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: Kinetics train annotation file not found: {tmp_path / 'train.csv'}"
    )


def test_gpu_check_runs_on_the_cpu_and_gives_a_verdict_per_shape(data):
    proc = run_tool(
        [
            os.path.join(TOOLS, "gpu_check.py"),
            "--device",
            "cpu",
            "--cfg",
            CFG,
            "--data",
            data,
            "--workers",
            "0",
            "--variants",
            "fp32,cl",
            "--steps",
            "1",
            "--warmup",
            "1",
            "--loader-batches",
            "1",
            *TINY,
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [ln for ln in proc.stdout.splitlines() if re.match(r"^\d+x[\d-]+, \d+ \[", ln)]
    assert rows and all(ln.endswith(("loader-bound", "compute-bound")) for ln in rows)
    assert "fp32 clips/s" in proc.stdout and "cl clips/s" in proc.stdout


def test_gpu_check_without_a_gpu_says_so():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the check would run")  # CI machines have none
    proc = run_tool([os.path.join(TOOLS, "gpu_check.py")])
    assert proc.returncode == 2 and "no CUDA device here" in proc.stderr
