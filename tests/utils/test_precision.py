"""Mixed precision and memory layout choices (slowfast.utils.precision)."""

import pytest
import torch

from slowfast.utils import precision


@pytest.mark.parametrize(
    "mixed, device, expected",
    [
        (False, "cpu", None),
        (False, "cuda", None),
        (True, "cpu", torch.bfloat16),
        (True, "cuda", torch.float16),
    ],
)
def test_autocast_dtype_per_device(mixed, device, expected):
    assert precision.autocast_dtype(mixed, device) is expected
    assert precision.needs_grad_scaler(expected) is (expected is torch.float16)


def test_cpu_autocast_runs_convolutions_in_bfloat16():
    conv = torch.nn.Conv3d(3, 4, 3)
    x = torch.randn(1, 3, 4, 6, 6)
    with precision.autocast("cpu", torch.bfloat16):
        assert conv(x).dtype == torch.bfloat16
    with precision.autocast("cpu", None):
        assert conv(x).dtype == torch.float32


def test_to_memory_format_converts_5d_tensors_only():
    clip, flat = torch.randn(2, 3, 4, 5, 6), torch.randn(2, 3)
    fmt = precision.memory_format(True)
    out = precision.to_memory_format([clip, [clip], flat], fmt)
    assert out[0].is_contiguous(memory_format=torch.channels_last_3d)
    assert not clip.is_contiguous(memory_format=torch.channels_last_3d)
    assert out[1][0].is_contiguous(memory_format=torch.channels_last_3d)
    assert out[2] is flat and torch.equal(out[0], clip)
    assert precision.to_memory_format(clip, precision.memory_format(False)) is clip


def test_unset_channels_last_is_chosen_per_device_and_described():
    from slowfast.config import build_cfg

    unset = build_cfg([], [])
    assert unset.MODEL.CHANNELS_LAST is None
    assert precision.model_memory_format(unset, "cpu") == torch.channels_last_3d
    assert precision.model_memory_format(unset, "cuda") == torch.contiguous_format
    off = build_cfg([], ["MODEL.CHANNELS_LAST", "False"])
    assert precision.model_memory_format(off, "cpu") == torch.contiguous_format
    on = build_cfg([], ["MODEL.CHANNELS_LAST", "True", "TRAIN.MIXED_PRECISION", "True"])
    assert precision.model_memory_format(on, "cuda") == torch.channels_last_3d
    assert precision.describe(None, torch.channels_last_3d, unset) == (
        "precision: float32 (TRAIN.MIXED_PRECISION False); memory layout: channels_last_3d "
        "(MODEL.CHANNELS_LAST unset: this device's default)"
    )
    assert precision.describe(torch.float16, torch.channels_last_3d, on) == (
        "precision: float16 autocast with a gradient scaler (TRAIN.MIXED_PRECISION True); "
        "memory layout: channels_last_3d (MODEL.CHANNELS_LAST True)"
    )
