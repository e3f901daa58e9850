"""layers.Conv3d: correct bfloat16-autocast gradients when the temporal kernel is longer than
the clip (oneDNN's bfloat16 weight gradients are inf/NaN or wrong there in PyTorch 2.13)."""

import pytest
import torch

from slowfast.models.layers import Conv3d


@pytest.mark.parametrize(
    "kernel, stride, frames", [(3, 1, 2), (5, 1, 2), (5, 1, 4), (5, 2, 3), (5, 2, 4), (3, 1, 8)]
)
def test_bf16_autocast_weight_gradient_matches_float32(kernel, stride, frames):
    torch.manual_seed(0)
    conv = Conv3d(
        8, 16, (kernel, 1, 1), stride=(stride, 1, 1), padding=(kernel // 2, 0, 0), bias=False
    )
    assert isinstance(conv, torch.nn.Conv3d)
    x = torch.randn(4, 8, frames, 6, 6)
    conv(x).sum().backward()
    reference, conv.weight.grad = conv.weight.grad.clone(), None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x)
    out.float().sum().backward()
    grad = conv.weight.grad
    assert torch.isfinite(grad).all()
    assert (grad - reference).norm() / reference.norm() < 0.02
    # Long enough clips still run in bfloat16; the short ones fall back to float32.
    assert out.dtype == (torch.float32 if frames < kernel else torch.bfloat16)


def test_same_state_dict_as_nn_conv3d():
    ours, theirs = Conv3d(3, 4, (3, 1, 1)), torch.nn.Conv3d(3, 4, (3, 1, 1))
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
