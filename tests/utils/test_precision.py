"""Mixed precision and memory layout choices (slowfast.utils.precision)."""

import pytest
import torch

from slowfast.utils import precision


@pytest.mark.parametrize(
    "mixed, device, expected",
    [(False, "cpu", None), (False, "cuda", None), (True, "cpu", torch.bfloat16), (True, "cuda", torch.float16)],
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
