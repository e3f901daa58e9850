"""build_model, the registry, and forward/backward of every arch x depth at every shape."""

from __future__ import annotations

import math

import pytest
import torch

from slowfast.config import build_cfg
from slowfast.config.errors import ConfigError
from slowfast.models import MODEL_REGISTRY, build_model

from .tiny import clip_inputs, config_path, tiny_cfg

ARCHS = ["c2d", "i3d", "slow", "slowfast"]


def test_registry_has_the_zoo():
    for name in ("ResNet", "ResNet_nopool", "SlowFast"):
        assert name in MODEL_REGISTRY


def test_unknown_model_name_lists_registered_names():
    cfg = tiny_cfg("c2d", 50, "MODEL.MODEL_NAME", "ResNett")
    with pytest.raises(ConfigError, match=r"MODEL.MODEL_NAME.*'ResNett'.*ResNet, ResNet_nopool"):
        build_model(cfg)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("depth", [50, 101])
def test_forward_backward_every_parameter_gets_a_gradient(arch, depth):
    torch.manual_seed(0)
    cfg = tiny_cfg(arch, depth, "RESNET.ZERO_INIT_FINAL_BN", "False")
    model = build_model(cfg)
    assert next(model.parameters()).device.type == "cpu"
    out = model(clip_inputs(cfg))
    assert out.shape == (2, 3)
    (out * torch.randn_like(out)).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} got an all-zero gradient"


def _schedule_shapes(cfg):
    """Multigrid (T, S): T * {1/4, 1/2, 1} x S * {1/2, 1/sqrt(2), 1}."""
    t, s = cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE
    return [(t // f, c) for f in (4, 2, 1) for c in (s // 2, int(round(s / math.sqrt(2))), s)]


@pytest.mark.parametrize("arch", ARCHS)
def test_every_multigrid_shape_runs_with_adaptive_head(arch):
    torch.manual_seed(0)
    cfg = tiny_cfg(arch, 50, "MULTIGRID.LONG_CYCLE", "True", "MULTIGRID.SHORT_CYCLE", "True",
                   "DATA.TRAIN_CROP_SIZE", "64")  # fmt: skip
    model = build_model(cfg)
    assert isinstance(model.head.pathway0_avgpool, torch.nn.AdaptiveAvgPool3d)
    shapes = _schedule_shapes(cfg)
    assert (cfg.DATA.NUM_FRAMES // 4, 45) in shapes
    for frames, crop in shapes:
        out = model(clip_inputs(cfg, frames=frames, crop=crop))
        assert out.shape == (2, 3), (frames, crop)
        out.sum().backward()


@pytest.mark.parametrize("arch", ARCHS)
def test_eval_softmax_rows_sum_to_one_at_a_larger_test_crop(arch):
    torch.manual_seed(0)
    cfg = tiny_cfg(arch, 50, "DATA.TRAIN_CROP_SIZE", "64", "DATA.TEST_CROP_SIZE", "96")
    model = build_model(cfg)
    # Fixed head pool from the config, like PySlowFast: T x 2 x 2 for a 64 crop.
    assert list(model.head.pathway0_avgpool.kernel_size)[1:] == [2, 2]
    model.eval()
    with torch.no_grad():
        out = model(clip_inputs(cfg, crop=96))
    assert out.shape == (2, 3)
    torch.testing.assert_close(out.sum(1), torch.ones(2))
    assert (out >= 0).all()


def test_dense_eval_averages_the_activation_over_positions():
    """At a larger test crop the fc runs at every position: softmax first, then the average."""
    torch.manual_seed(0)
    cfg = tiny_cfg("c2d", 50, "DATA.TRAIN_CROP_SIZE", "64")
    model = build_model(cfg).eval()
    feats = {}
    model.s5.register_forward_hook(lambda m, i, o: feats.update(x=o[0]))
    with torch.no_grad():
        out = model(clip_inputs(cfg, crop=96))
    x = torch.nn.functional.avg_pool3d(feats["x"], model.head.pathway0_avgpool.kernel_size, 1)
    assert x.shape[2:] == (1, 2, 2)
    logits = model.head.projection(x.permute(0, 2, 3, 4, 1))
    torch.testing.assert_close(out, logits.softmax(-1).mean((1, 2, 3)))


@pytest.mark.parametrize("act,check", [("sigmoid", "in01"), ("none", "raw")])
def test_head_activation_choices(act, check):
    torch.manual_seed(0)
    cfg = tiny_cfg("c2d", 50, "MODEL.HEAD_ACT", act)
    model = build_model(cfg).eval()
    with torch.no_grad():
        x = clip_inputs(cfg)
        out = model(x)
        model.train()
        raw = model(x)
    if check == "in01":
        assert ((out > 0) & (out < 1)).all()
    else:
        assert model.head.act is None and out.shape == raw.shape


def test_slowfast_fusion_and_temporal_kernels_follow_the_config():
    cfg = tiny_cfg("slowfast", 50)
    model = build_model(cfg)
    assert model.s1.pathway0_stem.conv.weight.shape[2:] == (1, 7, 7)
    assert model.s1.pathway1_stem.conv.weight.shape[2:] == (5, 7, 7)
    assert model.s1_fuse.conv_f2s.weight.shape == (4, 2, 7, 1, 1)  # FUSION_KERNEL_SZ 7
    assert model.s1_fuse.conv_f2s.stride == (4, 1, 1)  # ALPHA 4
    # Slow res4 blocks are 3x1x1, res3 1x1x1; the slow stage input includes the fused channels.
    assert model.s4.pathway0_res0.branch2.a.weight.shape[2] == 3
    assert model.s3.pathway0_res0.branch2.a.weight.shape[2] == 1
    assert model.s2.pathway0_res0.branch2.a.weight.shape[1] == 16 + 4


def test_i3d_alternates_temporal_kernels_and_pools_time_after_res2():
    model = build_model(tiny_cfg("i3d", 50))
    res3 = [model.s3.get_submodule(f"pathway0_res{i}").branch2.a.kernel_size[0] for i in range(4)]
    res5 = [model.s5.get_submodule(f"pathway0_res{i}").branch2.a.kernel_size[0] for i in range(3)]
    assert res3 == [3, 1, 3, 1] and res5 == [1, 3, 1]
    assert model.pathway0_pool.kernel_size == [2, 1, 1]
    assert hasattr(model.s3, "pathway0_nonlocal1") and hasattr(model.s4, "pathway0_nonlocal5")


def test_resnet_nopool_drops_the_temporal_pool():
    cfg = tiny_cfg("c2d", 50, "MODEL.MODEL_NAME", "ResNet_nopool")
    model = build_model(cfg)
    assert model.pathway0_pool.kernel_size == [1, 1, 1]
    assert model.head.pathway0_avgpool.kernel_size[0] == cfg.DATA.NUM_FRAMES
    assert model(clip_inputs(cfg)).shape == (2, 3)


def test_basic_transform_grouped_and_dilated_variants_run():
    torch.manual_seed(0)
    cfg = tiny_cfg(
        "i3d", 18,
        "RESNET.TRANS_FUNC", "basic_transform",
        "RESNET.NUM_BLOCK_TEMP_KERNEL", "[[2], [2], [2], [2]]",
        "NONLOCAL.LOCATION", "[[[]], [[1]], [[]], [[]]]",
        "NONLOCAL.GROUP", "[[1], [2], [1], [1]]",
        "NONLOCAL.INSTANTIATION", "dot_product",
        "RESNET.SPATIAL_STRIDES", "[[1], [2], [2], [1]]",
        "RESNET.SPATIAL_DILATIONS", "[[1], [1], [1], [2]]",
    )  # fmt: skip
    model = build_model(cfg)
    assert model.s5.pathway0_res1.branch2.b.dilation == (1, 2, 2)
    # With res5 at stride 1 the head window follows the real total stride: 32 // 16 = 2.
    assert list(model.head.pathway0_avgpool.kernel_size) == [4, 2, 2]
    out = model(clip_inputs(cfg))
    out.sum().backward()
    assert out.shape == (2, 3)


def test_resnext_groups_and_stride_1x1():
    cfg = tiny_cfg("slow", 50, "RESNET.NUM_GROUPS", "2", "RESNET.STRIDE_1X1", "True")
    model = build_model(cfg)
    block = model.s3.pathway0_res0.branch2
    assert block.b.groups == 2 and block.a.stride == (1, 2, 2) and block.b.stride == (1, 1, 1)
    assert model(clip_inputs(cfg)).shape == (2, 3)


# The message each config mistake's error has, and the KEY VALUE overrides that make it.
CONFIG_MISTAKES = {
    "DATA.INPUT_CHANNEL_NUM: needs 1 entry": ("DATA.INPUT_CHANNEL_NUM", "[3, 3]"),
    "MODEL.ARCH: 'slowfast' has 2 pathway": ("MODEL.ARCH", "slowfast"),
    "MODEL.ARCH: unknown arch 'x3d'": ("MODEL.ARCH", "x3d"),
    "RESNET.DEPTH: must be one of": ("RESNET.DEPTH", "34"),
    "RESNET.SPATIAL_STRIDES: needs 4": ("RESNET.SPATIAL_STRIDES", "[[1], [2], [2]]"),
    "NUM_BLOCK_TEMP_KERNEL entry 9": ("RESNET.NUM_BLOCK_TEMP_KERNEL", "[[3], [9], [6], [3]]"),
    "RESNET.TRANS_FUNC must be one of": ("RESNET.TRANS_FUNC", "x4d_transform"),
    "BN.NORM_TYPE": ("BN.NORM_TYPE", "groupnorm"),
}


@pytest.mark.parametrize("message", list(CONFIG_MISTAKES))
def test_config_mistakes_name_the_key(message):
    opts = CONFIG_MISTAKES[message]
    cfg = build_cfg([config_path("C2D_8x8_R50.yaml")], ["NUM_GPUS", "0", *opts])
    with pytest.raises((ConfigError, ValueError), match=message):
        build_model(cfg)


def test_init_follows_pyslowfast():
    torch.manual_seed(0)
    cfg = tiny_cfg("slowfast", 50, "MODEL.FC_INIT_STD", "0.5", "MODEL.NUM_CLASSES", "400")
    model = build_model(cfg)
    block = model.s3.pathway0_res1.branch2
    assert (block.c_bn.weight == 0).all() and (block.a_bn.weight == 1).all()
    assert (model.s1_fuse.bn.weight == 1).all() and (block.a_bn.bias == 0).all()
    w = model.head.projection.weight
    assert abs(w.std().item() - 0.5) < 0.05 and (model.head.projection.bias == 0).all()
    conv = model.s4.pathway0_res0.branch2.b.weight  # MSRA: std = sqrt(2 / fan_out)
    fan_out = conv.shape[0] * conv[0, 0].numel()
    assert abs(conv.std().item() / math.sqrt(2.0 / fan_out) - 1) < 0.1
    cfg = tiny_cfg("c2d", 50, "RESNET.ZERO_INIT_FINAL_BN", "False")
    assert (build_model(cfg).s3.pathway0_res1.branch2.c_bn.weight == 1).all()


def test_state_dict_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    cfg = tiny_cfg("slowfast", 50, "RESNET.ZERO_INIT_FINAL_BN", "False")
    a = build_model(cfg)
    x = clip_inputs(cfg)
    a(x)  # move the running statistics away from their initial values
    path = tmp_path / "model.pyth"
    torch.save({"model_state": a.state_dict()}, path)
    torch.manual_seed(1)
    b = build_model(cfg)
    b.load_state_dict(torch.load(path)["model_state"], strict=True)
    a.eval(), b.eval()
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)


def test_bn_epsilon_and_momentum_reach_every_norm():
    cfg = tiny_cfg("slowfast", 50, "BN.EPSILON", "0.001", "BN.MOMENTUM", "0.2")
    norms = [m for m in build_model(cfg).modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert norms and all(m.eps == 0.001 and m.momentum == 0.2 for m in norms)
