"""The full-size zoo: parameter counts and state-dict layouts equal PySlowFast's.

The fixture holds what PySlowFast's own model builder gives for the equivalent PySlowFast config
(its "pyslowfast_config" / "overrides" fields); ``tools/regenerate_fixtures.py --pyslowfast
/path/to/SlowFast layouts`` recomputes it. Models here are built on the meta device, so nothing
is allocated or run.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import re

import pytest
import torch

from slowfast.config import build_cfg
from slowfast.models import build_model
from slowfast.models.stats import params_count

from .tiny import ROOT, config_path

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "pyslowfast_state_layouts.json.gz")

# PySlowFast's published parameter counts (Kinetics-400 heads), in millions.
PUBLISHED_M = {
    "SLOWFAST_8x8_R50.yaml": 34.57,
    "SLOWFAST_8x8_R101.yaml": 62.83,
    "I3D_8x8_R50.yaml": 28.04,
    "SLOW_8x8_R50.yaml": 32.45,
    "C2D_8x8_R50.yaml": 24.33,
}


def _reference():
    with gzip.open(FIXTURE, "rt") as f:
        return json.load(f)["models"]


def _build_meta(name: str, *opts: str):
    cfg = build_cfg([config_path(name)], ["NUM_GPUS", "0", *opts])
    with torch.device("meta"):
        return build_model(cfg)


@pytest.mark.parametrize("name,millions", sorted(PUBLISHED_M.items()))
def test_full_size_parameter_counts_match_published(name, millions):
    assert round(params_count(_build_meta(name)) / 1e6, 2) == millions


def _cases():
    """(fixture key, our config, overrides): ``NAME`` is our ``NAME.yaml`` (whatever PySlowFast
    config built it); ``NAME+variant`` adds the overrides PySlowFast's model was built with."""
    out = []
    for key, ref in sorted(_reference().items()):
        name, _, variant = key.partition("+")
        out.append((key, name + ".yaml", tuple(ref["overrides"]) if variant else ()))
    return out


@pytest.mark.parametrize("key,name,opts", _cases())
def test_state_dict_keys_and_shapes_equal_pyslowfast(key, name, opts):
    ref = _reference()[key]
    model = _build_meta(name, *opts)
    ours = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert ours == ref["state"]  # same keys, same shapes, same order
    assert params_count(model) == ref["params"]


def _without_head(layout):
    return [entry for entry in layout if not entry[0].startswith("head.projection.")]


# Demo-sized networks of the synthetic demo: no PySlowFast counterpart to compare with.
NO_COUNTERPART = ("Synthetic",)


def test_fixture_covers_every_shipped_model_config():
    """Every shipped config (multigrid, SSv2, Charades, test-view variants included) builds a
    network whose layout, head aside (class counts differ), is one PySlowFast built."""
    configs = sorted(glob.glob(os.path.join(ROOT, "configs", "**", "*.yaml"), recursive=True))
    configs = [c for c in configs if f"{os.sep}base{os.sep}" not in c]
    assert len(configs) > 30
    references = [_without_head(ref["state"]) for ref in _reference().values()]
    uncovered = []
    for path in configs:
        rel = os.path.relpath(path, os.path.join(ROOT, "configs"))
        if rel.split(os.sep)[0] in NO_COUNTERPART:
            continue
        with torch.device("meta"):
            model = build_model(build_cfg([path], ["NUM_GPUS", "0"]))
        layout = _without_head([[k, list(v.shape)] for k, v in model.state_dict().items()])
        if layout not in references:
            uncovered.append(rel)
    assert uncovered == []


def test_paper_i3d_matches_the_supplementary_table():
    """conv1 1x7x7; res2/res3 1x1x1 first convs; res4 (6) / res5 (3) 3x1x1; no temporal pool;
    non-local after blocks 1, 3 of res3 and 1, 3, 5 of res4 in the NL variant."""
    model = _build_meta("I3D_NLN_16x8_R50_paper.yaml")
    assert model.s1.pathway0_stem.conv.kernel_size == (1, 7, 7)
    assert model.s1.pathway0_stem.conv.stride == (1, 2, 2)
    assert model.s1.pathway0_stem.pool_layer.kernel_size == [1, 3, 3]
    assert model.pathway0_pool.kernel_size == [1, 1, 1]
    for stage, blocks, t in (("s2", 3, 1), ("s3", 4, 1), ("s4", 6, 3), ("s5", 3, 3)):
        for i in range(blocks):
            conv = getattr(model, stage).get_submodule(f"pathway0_res{i}").branch2.a
            assert conv.kernel_size == (t, 1, 1), (stage, i)
        assert not hasattr(getattr(model, stage), f"pathway0_res{blocks}")
    names = [n for n, _ in model.named_modules()]
    nonlocal_blocks = sorted(n for n in names if re.fullmatch(r"s\d\.pathway0_nonlocal\d+", n))
    assert nonlocal_blocks == [
        "s3.pathway0_nonlocal1", "s3.pathway0_nonlocal3",
        "s4.pathway0_nonlocal1", "s4.pathway0_nonlocal3", "s4.pathway0_nonlocal5",
    ]  # fmt: skip
    assert model.head.pathway0_avgpool.kernel_size == [16, 7, 7]
