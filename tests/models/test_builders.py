"""The cfg-free builders (create_resnet, create_slowfast) against from_cfg, the norm and residual
transform registries, and model placement outside build_model."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from slowfast.config import build_cfg
from slowfast.models import (
    NORM_REGISTRY,
    TRANS_FUNC_REGISTRY,
    SlowFast,
    build_model,
    create_resnet,
    create_slowfast,
    place_model,
)
from slowfast.models.norm import SubBatchNorm3d, SyncBatchNorm3d

from .tiny import clip_inputs, config_path, tiny_cfg

# What tiny_cfg sets for every arch, as builder arguments.
TINY = {"num_classes": 3, "dropout_rate": 0.0, "zero_init_final_bn": True}


def _check_same_model(cfg, build, **kwargs) -> None:
    """``build(**kwargs)`` and ``build_model(cfg)``, from the same seed, have the same class, the
    same state dict (keys in order, values) and the same evaluation outputs."""
    torch.manual_seed(0)
    a = build_model(cfg)
    torch.manual_seed(0)
    b = build(**kwargs)
    assert type(a) is type(b)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    x = clip_inputs(cfg)
    a.eval(), b.eval()
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)


def test_create_resnet_with_explicit_arguments_is_the_config_i3d_with_nonlocal():
    _check_same_model(
        tiny_cfg("i3d", 50),
        create_resnet,
        temporal_kernels=((5,), (3,), (3, 1), (3, 1), (1, 3)),
        pool1=(2, 1, 1),
        nonlocal_location=((), (1, 3), (1, 3, 5), ()),
        nonlocal_instantiation="softmax",
        head_pool_size=(4, 1, 1),
        width_per_group=8,
        **TINY,
    )


def test_create_slowfast_with_explicit_arguments_is_the_config_slowfast():
    _check_same_model(
        tiny_cfg("slowfast", 50),
        create_slowfast,
        alpha=4,
        fusion_kernel_size=7,
        head_pool_sizes=((4, 1, 1), (16, 1, 1)),
        width_per_group=16,
        **TINY,
    )
    assert isinstance(create_slowfast(depth=18, width_per_group=8), SlowFast)


@pytest.mark.parametrize(
    "build,config",
    [
        (create_resnet, "SLOW_8x8_R50.yaml"),
        (create_slowfast, "SLOWFAST_8x8_R50.yaml"),
    ],
)
def test_builder_defaults_are_the_full_size_models(build, config):
    """The defaults are Slow R50 and SlowFast R50 8x8: the shipped configs' layouts exactly."""
    with torch.device("meta"):
        ours = build()
        shipped = build_model(build_cfg([config_path(config)], ["NUM_GPUS", "0"]))
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in shipped.state_dict().items()
    ]


def test_builder_argument_mistakes():
    with pytest.raises(TypeError, match="dept"):
        create_resnet(dept=50)
    with pytest.raises(ValueError, match="depth must be one of"):
        create_resnet(depth=34)
    with pytest.raises(ValueError, match="no Fast channels"):
        create_slowfast(width_per_group=4, beta_inv=8)


def test_norm_registry_holds_the_bn_norm_type_values():
    assert [name for name, _ in NORM_REGISTRY] == ["batchnorm", "sub_batchnorm", "sync_batchnorm"]
    options = {"eps": 1e-3, "momentum": 0.2, "num_splits": 2, "num_sync_devices": 1}
    layers = {name: entry(6, **options) for name, entry in NORM_REGISTRY}
    assert type(layers["batchnorm"]) is nn.BatchNorm3d
    assert isinstance(layers["sub_batchnorm"], SubBatchNorm3d)
    assert layers["sub_batchnorm"].num_splits == 2
    assert isinstance(layers["sync_batchnorm"], SyncBatchNorm3d)
    for layer in layers.values():
        assert layer.eps == 1e-3 and layer.momentum == 0.2
        assert layer.weight.shape == layer.bias.shape == (6,)


@pytest.mark.parametrize("stride", [1, 2])
def test_trans_func_registry_entries_follow_the_contract(stride):
    names = [name for name, _ in TRANS_FUNC_REGISTRY]
    assert names == ["bottleneck_transform", "basic_transform", "x3d_transform"]
    x = torch.randn(2, 8, 4, 8, 8)
    for name, entry in TRANS_FUNC_REGISTRY:
        branch = entry(
            dim_in=8,
            dim_out=16,
            temp_kernel_size=3,
            stride=stride,
            dim_inner=4,
            num_groups=1,
            stride_1x1=False,
            inplace_relu=True,
            dilation=1,
            norm=nn.BatchNorm3d,
            block_idx=0,
        )
        assert branch(x).shape == (2, 16, 4, 8 // stride, 8 // stride), name
        final = [m for m in branch.modules() if getattr(m, "is_final_norm", False)]
        assert len(final) == 1, name


def test_build_model_stays_on_the_cpu_and_place_model_moves_it():
    cfg = tiny_cfg("c2d", 50, "NUM_GPUS", "1", "MODEL.CHANNELS_LAST", "True")
    model = build_model(cfg)
    assert next(model.parameters()).device.type == "cpu"
    cl = torch.channels_last_3d
    conv = model.s1.pathway0_stem.conv.weight
    assert not conv.is_contiguous(memory_format=cl)
    assert place_model(model, "cpu", memory_format=cl) is model
    assert model.s1.pathway0_stem.conv.weight.is_contiguous(memory_format=cl)
    if torch.cuda.is_available():
        place_model(model, cfg)
        assert next(model.parameters()).device == torch.device("cuda", 0)
        assert model.s1.pathway0_stem.conv.weight.is_contiguous(memory_format=cl)
    else:
        with pytest.raises(RuntimeError, match="NUM_GPUS is 1 but CUDA is not available"):
            place_model(model, cfg)


def test_place_model_with_a_cpu_config_uses_its_memory_layout():
    cl = torch.channels_last_3d
    for flag, expected in (("True", True), ("False", False)):
        cfg = tiny_cfg("c2d", 50, "MODEL.CHANNELS_LAST", flag)
        model = place_model(build_model(cfg), cfg)
        weight = model.s2.pathway0_res0.branch2.b.weight
        assert weight.is_contiguous(memory_format=cl) is expected
        assert weight.device.type == "cpu"
