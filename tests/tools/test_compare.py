"""tools/benchmark.py compare: both implementations are timed by the same worker, in rotating
order, with our weights loaded strictly into the other model.

The real PySlowFast cannot be shipped here, so the tests build a stand-in checkout with its
package layout and API (get_cfg / assert_and_infer_cfg, MODEL_REGISTRY, video_model_builder
importing pytorchvideo) whose model has the parameter names and shapes that PySlowFast's own
builder gives this config (the ``C2D_8x8_R50+width4`` entry of the models' PySlowFast fixture,
made by tools/regenerate_fixtures.py), so "our weights loaded strictly" is a real check.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import statistics
import textwrap

import pytest

from sftools.compare import _parser, format_report, main, run_compare
from slowfast.config.errors import ConfigError
from tests.models.tiny import ROOT, config_path

OPTS = ["RESNET.WIDTH_PER_GROUP", "4", "MODEL.NUM_CLASSES", "3", "DATA.NUM_FRAMES", "4"]
LAYOUTS = os.path.join(ROOT, "tests", "models", "fixtures", "pyslowfast_state_layouts.json.gz")

FAKE_DEFAULTS = """
from fvcore.common.config import CfgNode

def get_cfg():
    cfg = CfgNode(new_allowed=True)
    sections = ("DATA", "TRAIN", "TEST", "MODEL", "SLOWFAST", "RESNET", "NONLOCAL", "BN", "SOLVER")
    for name in sections:
        cfg[name] = CfgNode(new_allowed=True)
    cfg.MODEL.MULTI_PATHWAY_ARCH = ["slowfast"]
    cfg.DATA.INPUT_CHANNEL_NUM = [3]
    cfg.NUM_GPUS = 1
    return cfg

def assert_and_infer_cfg(cfg):
    return cfg
"""

FAKE_BUILDER = '''
import json, os
import torch
import torch.nn as nn
from pytorchvideo.layers.batch_norm import NaiveSyncBatchNorm3d  # an optional dependency
from slowfast.models.build import MODEL_REGISTRY

LAYOUT = os.path.join(os.path.dirname(__file__), "layout.json")


@MODEL_REGISTRY.register()
class ResNet(nn.Module):
    """Parameters and buffers named and shaped as in the layout file; a trivial forward."""

    def __init__(self, cfg):
        super().__init__()
        with open(LAYOUT) as f:
            layout = json.load(f)
        for name, (shape, is_param) in layout.items():
            *path, leaf = name.split(".")
            module = self
            for part in path:
                if not hasattr(module, part):
                    module.add_module(part, nn.Module())
                module = getattr(module, part)
            value = torch.zeros(shape)
            if is_param:
                module.register_parameter(leaf, nn.Parameter(value))
            else:
                module.register_buffer(leaf, value)
        self.num_classes = cfg.MODEL.NUM_CLASSES

    def forward(self, inputs):
        x = inputs[0].float().mean(dim=(1, 2, 3, 4))
        tie = sum(p.sum() for p in self.parameters()) * 0
        return x[:, None].repeat(1, self.num_classes) + tie
'''


@pytest.fixture()
def fake_pyslowfast(tmp_path):
    """A checkout with PySlowFast's layout whose model has our C2D's state-dict layout."""
    root = tmp_path / "SlowFast"
    files = {
        "slowfast/__init__.py": "",
        "slowfast/config/__init__.py": "",
        "slowfast/config/defaults.py": FAKE_DEFAULTS,
        "slowfast/models/__init__.py": "",
        "slowfast/models/build.py": (
            "from fvcore.common.registry import Registry\nMODEL_REGISTRY = Registry('MODEL')\n"
        ),
        "slowfast/models/video_model_builder.py": FAKE_BUILDER,
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    with gzip.open(LAYOUTS, "rt") as f:
        reference = json.load(f)["models"]["C2D_8x8_R50+width4"]
    assert reference["overrides"] == OPTS
    # Which entries are parameters (not buffers): BN running stats and counters are buffers.
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    layout = {n: [shape, not n.endswith(buffers)] for n, shape in reference["state"]}
    (root / "slowfast/models/layout.json").write_text(json.dumps(layout))
    return root


def _args(pysf, *extra):
    return _parser().parse_args([
        "--cfg", config_path("C2D_8x8_R50.yaml"), "--pyslowfast", str(pysf), "--batch", "2",
        "--crop", "32", "--rounds", "2", "--steps", "1", "--warmup", "0", "--threads", "1",
        *extra, *OPTS,
    ])  # fmt: skip


def test_compare_times_both_in_rotating_rounds(fake_pyslowfast):
    args = _args(fake_pyslowfast, "--variants", "ours,ours-amp-cl")
    log = []
    timings = run_compare(args, log=log.append)
    names = ["ours", "ours, mixed precision + channels-last", "pyslowfast"]
    assert list(timings) == ["pyslowfast", "ours", "ours, mixed precision + channels-last"]
    # Round 1: ours first (it writes the weights); round 2 starts one variant later.
    order = [re.search(r"round \d/2  (.+?)\s+median", line)[1] for line in log]
    assert order == names + names[1:] + names[:1]
    for t in timings.values():
        assert len(t.wall) == 2 and all(w > 0 for w in t.wall)
    ref = timings["pyslowfast"].info
    assert ref["state_loaded_strictly"] and ref["autocast"] == "float32"
    assert ref["model_file"].startswith(str(fake_pyslowfast))
    fast = timings["ours, mixed precision + channels-last"].info
    assert fast["autocast"] == "bfloat16" and fast["channels_last"] is True
    assert fast["model_file"].startswith(os.path.join(ROOT, "slowfast"))
    assert timings["ours"].info["params"] == ref["params"]

    report = format_report(args, timings)
    assert "our weights loaded strictly: yes" in report
    rows = {r.split("|")[1].strip(): r for r in report.splitlines() if r.startswith("| ")}
    assert rows["pyslowfast"].split("|")[4].strip() == "1.00x"
    speed = float(rows["ours"].split("|")[4].strip().rstrip("x"))
    expected = statistics.median(timings["pyslowfast"].wall) / statistics.median(
        timings["ours"].wall
    )
    assert speed == pytest.approx(expected, abs=0.006)


def test_compare_rejects_a_folder_without_pyslowfast(tmp_path):
    with pytest.raises(ConfigError, match=r"--pyslowfast .*video_model_builder\.py"):
        run_compare(_args(tmp_path))


def test_compare_fails_loudly_when_the_models_differ(fake_pyslowfast):
    layout = fake_pyslowfast / "slowfast/models/layout.json"
    data = json.loads(layout.read_text())
    data.pop(next(iter(data)))
    layout.write_text(json.dumps(data))
    with pytest.raises(RuntimeError, match="benchmark worker for pyslowfast failed"):
        run_compare(_args(fake_pyslowfast, "--variants", "ours"))


def test_compare_names_an_unknown_variant(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["--cfg", "x.yaml", "--pyslowfast", "d", "--variants", "ours,fast"])
    assert "unknown variant(s) ['fast']" in capsys.readouterr().err


def test_compare_main_prints_table_and_json(fake_pyslowfast, capsys):
    argv = [
        "--cfg",
        config_path("C2D_8x8_R50.yaml"),
        "--pyslowfast",
        str(fake_pyslowfast),
        "--rounds",
        "1",
        "--steps",
        "1",
        "--warmup",
        "0",
        "--threads",
        "1",
        "--crop",
        "32",
        "--variants",
        "ours",
        *OPTS,
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| ours |" in out and "| pyslowfast |" in out
    stats = json.loads(out.split("json_stats: ", 1)[1].splitlines()[0])
    assert set(stats) >= {"pyslowfast", "ours"} and stats["ours"]["median_wall_s"] > 0
