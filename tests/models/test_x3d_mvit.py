"""X3D and MViT: PySlowFast's width / pooling rules on known answers, forward and backward at
every shape of the shipped multigrid schedules (reduced widths), resampled position tables, and
checkpoint round trips (``.pyth`` in PySlowFast's layout, ``.safetensors``). Parameter counts,
state-dict layouts and outputs against PySlowFast's own code are in test_zoo_layout.py and
test_pyslowfast_outputs.py (their fixtures hold X3D-XS/S/M/L, MViT-B and MViTv2-S/B)."""

from __future__ import annotations

import pytest
import torch

from slowfast.checkpoint.compat import load_checkpoint, save_checkpoint
from slowfast.checkpoint.safetensors_file import read_safetensors, write_safetensors
from slowfast.config import build_cfg
from slowfast.config.defaults import assert_and_infer_cfg
from slowfast.models import MODEL_REGISTRY, build_model
from slowfast.models.attention import relative_index, resample_table
from slowfast.models.build import input_multiples
from slowfast.models.layers import drop_path
from slowfast.models.mvit import block_pooling
from slowfast.models.x3d import round_repeats, round_width, x3d_widths
from slowfast.multigrid import build_schedule

from .tiny import config_path

# Reduced widths; the stage / block structure of the shipped configs stays.
SMALL_X3D = [
    "X3D.DIM_C1", "4", "X3D.WIDTH_FACTOR", "1.0", "X3D.DEPTH_FACTOR", "1.0",
    "X3D.BOTTLENECK_FACTOR", "2.0", "X3D.DIM_C5", "16",
]  # fmt: skip
# PySlowFast's MViT configs switch on the recipe, refused until it lands (docs/MODELS.md).
RECIPE_OFF = [
    "AUG.ENABLE", "False", "MIXUP.ENABLE", "False", "DATA.TRAIN_JITTER_SCALES_RELATIVE", "[]",
    "DATA.TRAIN_JITTER_ASPECT_RELATIVE", "[]", "DATA.USE_OFFSET_SAMPLING", "False",
]  # fmt: skip
SMALL_MVIT = ["MVIT.EMBED_DIM", "8", "MVIT.MLP_RATIO", "1.0", *RECIPE_OFF]
COMMON = ["NUM_GPUS", "0", "MODEL.NUM_CLASSES", "5", "MODEL.DROPOUT_RATE", "0.0"]


def _cfg(name: str, *opts: str):
    return assert_and_infer_cfg(build_cfg([config_path(name)], [*COMMON, *opts]))


def test_registry_holds_x3d_and_mvit():
    assert "X3D" in MODEL_REGISTRY and "MViT" in MODEL_REGISTRY


def test_x3d_widths_and_depths_are_pyslowfasts():
    """X3D-M: conv1 24 channels; stages 24, 48, 96, 192 wide (inner 54, 108, 216, 432), with 3,
    5, 11, 7 blocks (ceil of 2.2 x [1, 2, 5, 3]); the squeeze-excite width rounds to 8."""
    stem, outs, inners = x3d_widths(12, 2.0, 2.25, False)
    assert (stem, outs, inners) == (24, [24, 48, 96, 192], [54, 108, 216, 432])
    assert [round_repeats(n, 2.2) for n in (1, 2, 5, 3)] == [3, 5, 11, 7]
    assert [round_repeats(n, 5.0) for n in (1, 2, 5, 3)] == [5, 10, 25, 15]
    assert round_width(54, 0.0625, min_width=8, divisor=8) == 8
    assert round_width(432, 0.0625, min_width=8, divisor=8) == 32
    assert round_width(96, 2.0, divisor=2) == 192 and round_width(1, 2.0) == 2
    model = build_model(_cfg("X3D_M.yaml"))
    blocks = {s: sum(1 for n, _ in getattr(model, s).named_children()) for s in ("s2", "s5")}
    assert blocks == {"s2": 3, "s5": 7}
    # Squeeze-excite on every other block (the first of each stage included).
    assert hasattr(model.s4.pathway0_res0.branch2, "se")
    assert not hasattr(model.s4.pathway0_res1.branch2, "se")
    assert model.s2.pathway0_res0.branch2.b.groups == 54  # depthwise


def test_x3d_head_pools_over_pyslowfasts_window_or_globally_under_multigrid():
    assert build_model(_cfg("X3D_M.yaml")).head.pool_size == (16, 7, 7)
    assert build_model(_cfg("X3D_M_multigrid.yaml", *SMALL_X3D)).head.pool_size is None


def test_mvitv2_s_pooling_and_multiples_are_pyslowfasts():
    """K/V strides start at [1, 8, 8] and are divided by each Q stride (blocks 1, 3, 14); every
    kernel is POOL_KVQ_KERNEL's 3x3x3."""
    cfg = _cfg("MVITv2_S_16x4.yaml", *RECIPE_OFF)
    kq, kkv, sq, skv = block_pooling(
        cfg.MVIT.DEPTH,
        cfg.MVIT.POOL_Q_STRIDE,
        cfg.MVIT.POOL_KV_STRIDE,
        cfg.MVIT.POOL_KV_STRIDE_ADAPTIVE,
        cfg.MVIT.POOL_KVQ_KERNEL,
    )
    assert skv[0] == [1, 8, 8] and skv[1] == skv[2] == [1, 4, 4] and skv[3] == [1, 2, 2]
    assert skv[14] == skv[15] == [1, 1, 1]
    assert [i for i, s in enumerate(sq) if s != [1, 1, 1]] == [1, 3, 14]
    assert all(k == [3, 3, 3] for k in kq + kkv)
    # v1's rule without a kernel: stride + 1 where the stride is above 1.
    assert block_pooling(2, [[1, 1, 2, 2]])[0] == [[], [1, 3, 3]]
    assert input_multiples(cfg) == (2, 32)
    assert input_multiples(_cfg("X3D_M.yaml")) == (1, 1)


def test_relative_positions_resample_to_any_grid():
    # Query i, key j on a common scale: offset (i - j) + (k - 1) for equal sizes.
    assert relative_index(3, 3).tolist() == [[2, 1, 0], [3, 2, 1], [4, 3, 2]]
    # Keys pooled 2x: each key step counts as two query steps.
    assert relative_index(4, 2).tolist() == [[2, 0], [3, 1], [4, 2], [5, 3]]
    table = torch.arange(10.0).reshape(5, 2)
    assert resample_table(table, 5) is table
    stretched = resample_table(table, 9)
    assert stretched.shape == (9, 2)
    assert stretched[0].tolist() == table[0].tolist() and stretched[-1].tolist() == [8.0, 9.0]


def _schedule_shapes(cfg) -> list[tuple[int, int, int]]:
    """(batch, frames, crop) of every phase and short-cycle step of ``cfg``'s schedule."""
    shapes = set()
    schedule = build_schedule(cfg)
    for phase in schedule.phases:
        for batch, crop in phase.short_cycle:
            shapes.add((batch // phase.batch_size, phase.num_frames, crop))
    return sorted(shapes)


@pytest.mark.parametrize(
    "name,small",
    [("X3D_M_multigrid.yaml", SMALL_X3D), ("MVITv2_S_16x4_multigrid.yaml", SMALL_MVIT)],
)
def test_forward_backward_at_every_shape_of_the_shipped_multigrid_schedule(name, small):
    """Every (frames, crop) the schedule trains: 4-16 frames, crops 112-224 (MViT: rounded to
    multiples of 32), one clip each, every parameter gets a gradient, scores are finite."""
    cfg = _cfg(name, *small)
    shapes = _schedule_shapes(cfg)
    frames = {t for _, t, _ in shapes}
    crops = {s for _, _, s in shapes}
    assert frames == {4, 8, 16}
    if cfg.MODEL.ARCH == "mvit":
        assert crops == {128, 160, 224} and all(s % 32 == 0 and t % 2 == 0 for _, t, s in shapes)
    else:
        assert crops == {112, 158, 224}
    torch.manual_seed(0)
    model = build_model(cfg).train()
    for _, t, s in shapes:
        model.zero_grad()
        out = model([torch.randn(1 if cfg.MODEL.ARCH == "mvit" else 2, 3, t, s, s)])
        assert out.shape[1] == 5 and torch.isfinite(out).all(), (t, s)
        out.square().sum().backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None]
        assert missing == [], (t, s, missing[:3])


def test_mvit_takes_test_crops_other_than_the_training_crop():
    """PySlowFast's MViT asserts TEST_CROP_SIZE == TRAIN_CROP_SIZE; here the absolute (v1) and
    relative (v2) position tables are resampled and the softmax scores still sum to one."""
    for name in ("MVIT_B_16x4_CONV.yaml", "MVITv2_S_16x4.yaml"):
        cfg = _cfg(name, *SMALL_MVIT, "DATA.TRAIN_CROP_SIZE", "64", "DATA.NUM_FRAMES", "8")
        model = build_model(cfg).eval()
        with torch.no_grad():
            for t, s in ((8, 64), (4, 96), (6, 32)):
                out = model([torch.randn(2, 3, t, s, s)])
                torch.testing.assert_close(out.sum(1), torch.ones(2))


def test_mvit_zero_decay_names_follow_the_config():
    on = build_model(_cfg("MVIT_B_16x4_CONV.yaml", *SMALL_MVIT, "MVIT.ZERO_DECAY_POS_CLS", "True"))
    assert {"pos_embed_spatial", "cls_token", "rel_pos_h"} <= set(on.no_weight_decay())
    off = build_model(_cfg("MVIT_B_16x4_CONV.yaml", *SMALL_MVIT))  # the config sets False
    assert off.no_weight_decay() == []


def test_drop_path_drops_whole_samples_and_keeps_the_expectation():
    torch.manual_seed(0)
    x = torch.ones(4000, 3, 2)
    out = drop_path(x, 0.25, training=True)
    kept = out[:, 0, 0] != 0
    assert torch.equal(out[kept], torch.full_like(out[kept], 1 / 0.75))
    assert (out[~kept] == 0).all()
    assert 0.72 < kept.float().mean().item() < 0.78
    assert drop_path(x, 0.25, training=False) is x


@pytest.mark.parametrize(
    "name,small", [("X3D_S.yaml", SMALL_X3D), ("MVITv2_S_16x4.yaml", SMALL_MVIT)]
)
def test_checkpoints_round_trip_in_both_formats(name, small, tmp_path):
    """A checkpoint written by the trainer's writer (PySlowFast's .pyth layout) and a
    .safetensors file load strictly into a fresh model, which then scores like the original."""
    opts = [*small, "DATA.TRAIN_CROP_SIZE", "64", "DATA.TEST_CROP_SIZE", "64"]
    cfg = _cfg(name, *opts, "OUTPUT_DIR", str(tmp_path))
    torch.manual_seed(1)
    model = build_model(cfg).eval()
    x = [torch.randn(2, 3, cfg.DATA.NUM_FRAMES, 64, 64)]
    with torch.no_grad():
        expected = model(x)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = save_checkpoint(str(tmp_path), model, optimizer, 0, cfg)
    torch.manual_seed(2)
    fresh = build_model(cfg).eval()
    assert load_checkpoint(path, fresh) == 0
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), expected, rtol=0, atol=0)
    st = str(tmp_path / "weights.safetensors")
    write_safetensors(st, model.state_dict())
    torch.manual_seed(3)
    again = build_model(cfg).eval()
    again.load_state_dict(read_safetensors(st)["model_state"], strict=True)
    with torch.no_grad():
        torch.testing.assert_close(again(x), expected, rtol=0, atol=0)


def test_mvit_activation_checkpointing_gives_the_same_gradients():
    opts = [*SMALL_MVIT, "DATA.TRAIN_CROP_SIZE", "64", "DATA.NUM_FRAMES", "4"]
    torch.manual_seed(0)
    plain = build_model(_cfg("MVITv2_S_16x4.yaml", *opts, "MVIT.DROPPATH_RATE", "0.0"))
    remat = build_model(
        _cfg(
            "MVITv2_S_16x4.yaml", *opts, "MVIT.DROPPATH_RATE", "0.0", "MODEL.ACT_CHECKPOINT", "True"
        )
    )
    remat.load_state_dict(plain.state_dict())
    assert remat.act_checkpoint and not plain.act_checkpoint
    x = [torch.randn(2, 3, 4, 64, 64)]
    for model in (plain, remat):
        model.train()(x).square().sum().backward()
    for (name, a), b in zip(plain.named_parameters(), remat.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)
