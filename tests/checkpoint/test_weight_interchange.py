"""Weights from elsewhere: Caffe2 .pkl conversion and 2-D -> 3-D inflation."""

from __future__ import annotations

import logging
import pickle

import pytest
import torch
import torch.nn.functional as F

from slowfast.checkpoint.caffe2 import c2_name_to_pytorch, caffe2_to_state_dict, load_caffe2_blobs
from slowfast.checkpoint.inflate import inflate_state_dict, torchvision_to_pyslowfast_name
from slowfast.models import build_model
from tests.models.tiny import clip_inputs, tiny_cfg

from .c2_writer import state_dict_to_caffe2_blobs


@pytest.fixture
def slowfast_log(caplog):
    """Capture the package's records even when its logger does not propagate."""
    logger = logging.getLogger("slowfast")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="slowfast")
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.mark.parametrize(
    "c2,torch_name",
    [
        ("conv1_w", "s1.pathway0_stem.conv.weight"),
        ("t_conv1_w", "s1.pathway1_stem.conv.weight"),
        ("res_conv1_bn_riv", "s1.pathway0_stem.bn.running_var"),
        ("t_res_conv1_bn_s", "s1.pathway1_stem.bn.weight"),
        ("res2_0_branch1_w", "s2.pathway0_res0.branch1.weight"),
        ("res4_3_branch1_bn_rm", "s4.pathway0_res3.branch1_bn.running_mean"),
        ("t_res3_2_branch2b_bn_b", "s3.pathway1_res2.branch2.b_bn.bias"),
        ("res5_2_branch2c_w", "s5.pathway0_res2.branch2.c.weight"),
        ("nonlocal_conv3_1_theta_w", "s3.pathway0_nonlocal1.conv_theta.weight"),
        ("nonlocal_conv4_5_out_b", "s4.pathway0_nonlocal5.conv_out.bias"),
        ("nonlocal_conv4_5_bn_s", "s4.pathway0_nonlocal5.bn.weight"),
        ("t_pool1_subsample_w", "s1_fuse.conv_f2s.weight"),
        ("t_pool1_subsample_bn_rm", "s1_fuse.bn.running_mean"),
        ("t_res4_5_branch2c_bn_subsample_w", "s4_fuse.conv_f2s.weight"),
        ("t_res2_2_branch2c_bn_subsample_bn_b", "s2_fuse.bn.bias"),
        ("pred_w", "head.projection.weight"),
        ("pred_b", "head.projection.bias"),
        ("res2_0_branch2a_w_momentum", None),
    ],
)
def test_caffe2_blob_names(c2, torch_name):
    assert c2_name_to_pytorch(c2) == torch_name


def _write_pkl(path, blobs):
    extra = {"lr": 0.1, "model_iter": 1000, "res2_0_branch2a_w_momentum": blobs["conv1_w"] * 0}
    with open(path, "wb") as f:
        pickle.dump({"blobs": {**blobs, **extra}}, f, protocol=2)


@pytest.mark.parametrize("arch", ["i3d", "slowfast"])
def test_caffe2_round_trip_loads_strictly_with_identical_outputs(arch, tmp_path):
    torch.manual_seed(0)
    cfg = tiny_cfg(arch, 50, "RESNET.ZERO_INIT_FINAL_BN", "False")
    source = build_model(cfg)
    x = clip_inputs(cfg)
    source(x)
    path = tmp_path / "model.pkl"
    _write_pkl(path, state_dict_to_caffe2_blobs(source.state_dict()))
    blobs = load_caffe2_blobs(str(path))
    assert "lr" not in blobs and "res2_0_branch2a_w_momentum" not in blobs
    sub_bn = ["BN.NORM_TYPE", "sub_batchnorm", "BN.NUM_SPLITS", "2"]
    for norm in (["BN.NORM_TYPE", "batchnorm"], sub_bn):
        torch.manual_seed(1)
        target = build_model(tiny_cfg(arch, 50, *norm))
        target.load_state_dict(caffe2_to_state_dict(blobs, target.state_dict()), strict=True)
        source.eval(), target.eval()
        with torch.no_grad():
            torch.testing.assert_close(target(x), source(x), rtol=0, atol=0)


def test_caffe2_conversion_reports_what_does_not_fit(tmp_path, slowfast_log):
    cfg = tiny_cfg("c2d", 50)
    state = build_model(cfg).state_dict()
    blobs = state_dict_to_caffe2_blobs(state)
    blobs["mystery_blob"] = blobs.pop("res5_2_branch2c_w")
    blobs["res9_0_branch1_w"] = blobs["conv1_w"]
    blobs["pred_w"] = blobs["pred_w"][:2]
    out = caffe2_to_state_dict(blobs, state)
    text = slowfast_log.text
    assert "no PyTorch name (skipped) (1): mystery_blob" in text
    assert "res9_0_branch1_w -> s9.pathway0_res0.branch1.weight" in text
    assert "pred_w -> head.projection.weight: (2, 256) vs model (3, 256)" in text
    assert "model tensors no Caffe2 blob fills (1): s5.pathway0_res2.branch2.c.weight" in text
    assert "s9.pathway0_res0.branch1.weight" not in out
    assert out["head.projection.weight"].shape[0] == 2  # kept: the loader reports the mismatch


def test_load_caffe2_blobs_rejects_other_pickles(tmp_path):
    path = tmp_path / "not_c2.pkl"
    with open(path, "wb") as f:
        pickle.dump({"model_state": {}}, f)
    with pytest.raises(ValueError, match=r"not_c2.pkl: not a Caffe2 checkpoint.*model_state"):
        load_caffe2_blobs(str(path))


# ---------------------------------------------------------------------------------------------
# Inflation. A small 2-D ResNet-50-shaped network (width 8) in torchvision's layout, random
# weights, evaluated here with torch.nn.functional 2-D ops only.
# ---------------------------------------------------------------------------------------------
WIDTH, CLASSES = 8, 3


def _bn(prefix, c, g):
    return {
        f"{prefix}.weight": torch.rand(c, generator=g) + 0.5,
        f"{prefix}.bias": torch.randn(c, generator=g) * 0.1,
        f"{prefix}.running_mean": torch.randn(c, generator=g) * 0.1,
        f"{prefix}.running_var": torch.rand(c, generator=g) + 0.5,
        f"{prefix}.num_batches_tracked": torch.tensor(7),
    }


def _conv(c_out, c_in, k, g):
    return torch.randn(c_out, c_in, k, k, generator=g) * (2.0 / (c_in * k * k)) ** 0.5


def torchvision_resnet50_state(classes=CLASSES):
    g = torch.Generator().manual_seed(0)
    state = {"conv1.weight": _conv(WIDTH, 3, 7, g), **_bn("bn1", WIDTH, g)}
    c_in = WIDTH
    for layer, blocks in enumerate((3, 4, 6, 3), start=1):
        planes = WIDTH * 2 ** (layer - 1)
        for b in range(blocks):
            p = f"layer{layer}.{b}"
            state[f"{p}.conv1.weight"] = _conv(planes, c_in, 1, g)
            state[f"{p}.conv2.weight"] = _conv(planes, planes, 3, g)
            state[f"{p}.conv3.weight"] = _conv(planes * 4, planes, 1, g)
            for i, c in ((1, planes), (2, planes), (3, planes * 4)):
                state.update(_bn(f"{p}.bn{i}", c, g))
            if b == 0:
                state[f"{p}.downsample.0.weight"] = _conv(planes * 4, c_in, 1, g)
                state.update(_bn(f"{p}.downsample.1", planes * 4, g))
            c_in = planes * 4
    state["fc.weight"] = torch.randn(classes, c_in, generator=g) * 0.1
    state["fc.bias"] = torch.randn(classes, generator=g)
    return state


def _bn2d(x, s, p):
    return F.batch_norm(
        x, s[f"{p}.running_mean"], s[f"{p}.running_var"], s[f"{p}.weight"], s[f"{p}.bias"],
        training=False, eps=1e-5,
    )  # fmt: skip


def resnet2d_forward(s, img, upto=None):
    """torchvision ResNet-50 (v1.5: stride on the 3x3) computed with 2-D functional ops."""
    x = F.relu(_bn2d(F.conv2d(img, s["conv1.weight"], stride=2, padding=3), s, "bn1"))
    x = F.max_pool2d(x, 3, stride=2, padding=1)
    if upto == "stem":
        return x
    for layer, blocks in enumerate((3, 4, 6, 3), start=1):
        for b in range(blocks):
            p = f"layer{layer}.{b}"
            stride = 2 if (b == 0 and layer > 1) else 1
            y = F.relu(_bn2d(F.conv2d(x, s[f"{p}.conv1.weight"]), s, f"{p}.bn1"))
            y = F.conv2d(y, s[f"{p}.conv2.weight"], stride=stride, padding=1)
            y = F.relu(_bn2d(y, s, f"{p}.bn2"))
            y = _bn2d(F.conv2d(y, s[f"{p}.conv3.weight"]), s, f"{p}.bn3")
            if b == 0:
                x = F.conv2d(x, s[f"{p}.downsample.0.weight"], stride=stride)
                x = _bn2d(x, s, f"{p}.downsample.1")
            x = F.relu(x + y)
        if upto == f"layer{layer}":
            return x
    return F.linear(x.mean((2, 3)), s["fc.weight"], s["fc.bias"])


def _constant_clip(img, frames):
    return img.unsqueeze(2).expand(-1, -1, frames, -1, -1).contiguous()


def _pyslowfast_layout(tv_state):
    """The same weights under PySlowFast names (R50_IN1K.pyth style: stem conv 1x7x7)."""
    out = {torchvision_to_pyslowfast_name(k): v for k, v in tv_state.items()}
    out["s1.pathway0_stem.conv.weight"] = out["s1.pathway0_stem.conv.weight"].unsqueeze(2)
    return out


@pytest.mark.parametrize(
    "layout,norm",
    [("torchvision", "batchnorm"), ("pyslowfast", "batchnorm"), ("torchvision", "sub_batchnorm")],
)
def test_inflated_c2d_on_a_constant_clip_gives_the_2d_logits(layout, norm):
    tv = torchvision_resnet50_state()
    state = tv if layout == "torchvision" else _pyslowfast_layout(tv)
    torch.manual_seed(0)
    cfg = tiny_cfg("c2d", 50, "MODEL.HEAD_ACT", "none", "BN.NORM_TYPE", norm, "BN.NUM_SPLITS", "2")
    model = build_model(cfg)
    inflated = inflate_state_dict(state, model.state_dict())
    model.load_state_dict(inflated, strict=True)
    img = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = resnet2d_forward(tv, img)
        got = model.eval()([_constant_clip(img, cfg.DATA.NUM_FRAMES)])
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_inflated_i3d_divides_kernels_by_their_length(slowfast_log):
    tv = torchvision_resnet50_state(classes=7)  # another class count: fc is dropped
    cfg = tiny_cfg("i3d", 50)
    model = build_model(cfg)
    inflated = inflate_state_dict(tv, model.state_dict())
    assert "head.projection.weight" not in inflated
    assert "head.projection.weight (7, 256) vs model (3, 256)" in slowfast_log.text
    stem = inflated["s1.pathway0_stem.conv.weight"]
    assert stem.shape == (WIDTH, 3, 5, 7, 7)
    torch.testing.assert_close(stem.sum(2), tv["conv1.weight"])
    model.load_state_dict(inflated, strict=False)
    img = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        stem_out = model.eval().s1([_constant_clip(img, 8)])[0]
        expected = resnet2d_forward(tv, img, upto="stem")
    for t in range(2, 6):  # frames the 5-tap kernel sees whole
        torch.testing.assert_close(stem_out[:, :, t], expected, rtol=1e-4, atol=1e-5)


def test_inflated_slowfast_slow_pathway_computes_the_2d_network():
    tv = torchvision_resnet50_state()
    torch.manual_seed(0)
    cfg = tiny_cfg("slowfast", 50, "RESNET.WIDTH_PER_GROUP", str(WIDTH))
    model = build_model(cfg)
    inflated = inflate_state_dict(tv, model.state_dict())
    # Fused input channels get zero weights; the Fast pathway and fusions keep their init.
    w = inflated["s2.pathway0_res0.branch2.a.weight"]
    assert w.shape[1] == WIDTH + 2 and (w[:, WIDTH:] == 0).all()
    assert not any(k.startswith(("s1.pathway1", "s1_fuse", "s3.pathway1")) for k in inflated)
    model.load_state_dict(inflated, strict=False)
    img = torch.randn(1, 3, 32, 32)
    feats = {}
    model.s2.register_forward_hook(lambda m, i, o: feats.update(slow=o[0]))
    clip = _constant_clip(img, cfg.DATA.NUM_FRAMES)
    with torch.no_grad():
        model.eval()([clip[:, :, :: cfg.SLOWFAST.ALPHA], clip])
        expected = resnet2d_forward(tv, img, upto="layer1")
    for t in range(feats["slow"].shape[2]):
        torch.testing.assert_close(feats["slow"][:, :, t], expected, rtol=1e-4, atol=1e-5)
