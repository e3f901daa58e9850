"""tools/benchmark.py model: the printed figures are consistent with each other."""

from __future__ import annotations

import re

import pytest

from sftools.model_benchmark import cpu_peak_gflops, main
from tests.models.tiny import config_path


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_benchmark_prints_speed_and_flop_rate(mode, capsys):
    argv = [
        "model", "--cfg", config_path("C2D_8x8_R50.yaml"), "--batch", "2", "--frames", "4",
        "--crop", "32", "--mode", mode, "--steps", "2", "--warmup", "1", "--threads", "1",
        "--peak-gflops", "100", "--device", "cpu",
        "RESNET.WIDTH_PER_GROUP", "4", "MODEL.NUM_CLASSES", "3",
    ]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{mode}, input 2x3x4x32x32" in out and "1 threads" in out
    median = float(re.search(r"median ([\d.]+) s", out)[1])
    clips = float(re.search(r"speed\s+([\d.]+) clips/s", out)[1])
    assert clips == pytest.approx(2 / median, rel=0.01, abs=0.01)
    number = r"([\d.e+-]+)"
    found = re.search(rf"{number} GFLOPs/clip .* {number} GMAC/s = {number} GFLOP/s", out)
    per_clip, gmacs, gflops = map(float, found.groups())
    factor = 3 if mode == "train" else 1
    assert per_clip > 0
    assert gmacs == pytest.approx(per_clip * factor * clips, rel=0.01)
    assert gflops == pytest.approx(2 * gmacs, rel=0.01)
    assert re.search(r"peak\s+100 GFLOP/s", out)


def test_cpu_peak_estimate_is_positive_or_unknown():
    peak = cpu_peak_gflops(2)
    assert peak is None or peak == pytest.approx(2 * cpu_peak_gflops(1))
