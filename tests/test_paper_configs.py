"""The shipped configs behind projects/multigrid/README.md: they load, their multigrid schedules
build, each multigrid file only switches multigrid on over its ``_BASE_``, and the paper's I3D
models keep the time axis at full resolution."""

from __future__ import annotations

import glob
import os
import re

import pytest
import torch
import yaml

from slowfast.config import ConfigError, assert_and_infer_cfg, build_cfg
from slowfast.models import build_model
from slowfast.multigrid import build_schedule
from tests.config_keys import RECIPE_CONFIGS, RECIPE_OFF, RECIPE_SWITCHES, flatten

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "**", "*.yaml"), recursive=True))
MULTIGRID_CONFIGS = [p for p in CONFIGS if "multigrid" in os.path.basename(p)]
I3D_PAPER = ("I3D_16x8_R50_paper", "I3D_NLN_16x8_R50_paper")
I3D_PAPER_CONFIGS = [p for p in CONFIGS if os.path.basename(p).startswith(I3D_PAPER)]
STEPWISE_KINETICS = os.path.join(ROOT, "configs/Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.yaml")

README = os.path.join(ROOT, "projects", "multigrid", "README.md")


def rel(path: str) -> str:
    return os.path.relpath(path, ROOT)


def base_of(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        base = yaml.safe_load(f).get("_BASE_")
    assert isinstance(base, str), f"{rel(path)}: expected one _BASE_ file"
    return os.path.join(os.path.dirname(path), base)


def test_readme_names_existing_configs_and_every_multigrid_one():
    with open(README, encoding="utf-8") as f:
        named = set(re.findall(r"configs/[\w./-]+?\.yaml", f.read()))
    assert not {p for p in named if not os.path.isfile(os.path.join(ROOT, p))}
    assert {rel(p) for p in MULTIGRID_CONFIGS} <= named
    assert len(MULTIGRID_CONFIGS) >= 15


@pytest.mark.parametrize("path", CONFIGS, ids=rel)
def test_config_loads_and_validates(path):
    if os.path.basename(path) in RECIPE_CONFIGS:  # validates once the recipe is off
        with pytest.raises(ConfigError, match="AUG.ENABLE"):
            assert_and_infer_cfg(build_cfg([path]))
        assert_and_infer_cfg(build_cfg([path], RECIPE_OFF))
        return
    assert_and_infer_cfg(build_cfg([path]))


@pytest.mark.parametrize("path", MULTIGRID_CONFIGS, ids=rel)
def test_multigrid_config_builds_a_saving_schedule(path):
    cfg = assert_and_infer_cfg(build_cfg([path]))
    assert cfg.MULTIGRID.LONG_CYCLE or cfg.MULTIGRID.SHORT_CYCLE
    schedule = build_schedule(cfg)
    assert schedule.phases
    assert schedule.compute_saving > 1.0


def test_stepwise_kinetics_schedule_is_13_phases_to_epoch_358():
    cfg = assert_and_infer_cfg(build_cfg([STEPWISE_KINETICS]))
    whole = build_schedule(cfg, unit="epochs")  # PySlowFast's numbers
    assert len(whole.phases) == 13
    assert whole.phases[-1].end == 358 == whole.max_epoch
    assert [p.kind for p in whole.phases].count("fine_tune") == 1
    exact = build_schedule(cfg)  # what run_net trains: the same phases, unrounded
    assert len(exact.phases) == 13 and exact.max_epoch == 358.5 and exact.num_epochs == 359


@pytest.mark.parametrize("path", MULTIGRID_CONFIGS, ids=rel)
def test_multigrid_config_changes_only_multigrid_keys_over_its_base(path):
    """Allowed besides MULTIGRID.*: test-time keys (TEST.*, DATA.TEST_CROP_SIZE), over a
    cosine baseline (whose LR ignores them) SOLVER.STEPS marking the long cycles, which the
    file's comment must then explain, and over a PySlowFast MViT config the recipe switched off
    (with the hard-label loss), which the comment must also say."""
    base = base_of(path)
    mine, theirs = flatten(build_cfg([path])), flatten(build_cfg([base]))
    changed = {k for k in mine if mine[k] != theirs[k]}
    allowed = {k for k in changed if k.startswith(("MULTIGRID.", "TEST."))}
    allowed |= changed & {"DATA.TEST_CROP_SIZE"}
    if os.path.basename(base) in RECIPE_CONFIGS:
        recipe = changed & (set(RECIPE_SWITCHES) | {"MODEL.LOSS_FUNC"})
        assert all(mine[k] in (False, [], "cross_entropy") for k in recipe), rel(path)
        with open(path, encoding="utf-8") as f:
            assert "recipe" in f.read(), f"{rel(path)}: document why the recipe is off"
        allowed |= recipe
    if "SOLVER.STEPS" in changed:
        assert theirs["SOLVER.LR_POLICY"] == "cosine", f"{rel(path)} moves the baseline's LR steps"
        with open(path, encoding="utf-8") as f:
            assert "SOLVER.STEPS" in f.read(), f"{rel(path)}: document why SOLVER.STEPS is set"
        allowed.add("SOLVER.STEPS")
    assert changed - allowed == set(), f"{rel(path)} over {rel(base)}"
    assert any(k.startswith("MULTIGRID.") for k in changed) or "multigrid" in os.path.basename(base)


@pytest.mark.parametrize("path", I3D_PAPER_CONFIGS, ids=rel)
def test_paper_i3d_has_no_temporal_downsampling(path):
    cfg = assert_and_infer_cfg(
        build_cfg(
            [path],
            [
                "NUM_GPUS", "0", "RESNET.WIDTH_PER_GROUP", "2", "DATA.TRAIN_CROP_SIZE", "32",
                "DATA.TEST_CROP_SIZE", "32", "MODEL.NUM_CLASSES", "3", "TRAIN.BATCH_SIZE", "2",
                "TEST.BATCH_SIZE", "2", "MODEL.DROPOUT_RATE", "0.0",
            ],
        )
    )  # fmt: skip
    assert cfg.MODEL.ARCH == "slow" and cfg.DATA.NUM_FRAMES == 16
    torch.manual_seed(0)
    model = build_model(cfg)
    conv1 = model.s1.pathway0_stem.conv
    assert conv1.kernel_size == (1, 7, 7) and conv1.stride == (1, 2, 2)
    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.Conv3d, torch.nn.MaxPool3d)):
            stride = module.stride
            stride = stride if isinstance(stride, (list, tuple)) else (stride,) * 3
            assert stride[0] == 1, f"{name} strides over time: {stride}"
    seen = {}
    model.s5.register_forward_hook(lambda m, i, out: seen.setdefault("s5", out))
    model.eval()
    with torch.no_grad():
        model([torch.randn(1, 3, 16, 32, 32)])
    assert seen["s5"][0].shape[2] == 16  # all 16 input frames survive to res5
