"""The loading entry: Caffe2 .pkl files and 2-D -> 3-D inflation through load_checkpoint."""

import pickle

import torch
from torch import nn

from slowfast.checkpoint import load_checkpoint
from slowfast.models.norm import SubBatchNorm3d

from .c2_writer import state_dict_to_caffe2_blobs


class C2Net(nn.Module):
    """A stem and a head under PySlowFast's names, which the Caffe2 name rules know."""

    def __init__(self, t=1, num_classes=3, norm=None):
        super().__init__()
        self.s1 = nn.Module()
        self.s1.pathway0_stem = nn.Module()
        self.s1.pathway0_stem.conv = nn.Conv3d(3, 4, (t, 3, 3), bias=False)
        self.s1.pathway0_stem.bn = norm or nn.BatchNorm3d(4)
        self.head = nn.Module()
        self.head.projection = nn.Linear(4, num_classes)


def test_caffe2_weights(tmp_path, logs):
    torch.manual_seed(0)
    source = C2Net()
    source.s1.pathway0_stem.bn.running_mean.normal_()
    pkl = str(tmp_path / "c2.pkl")
    with open(pkl, "wb") as f:
        pickle.dump({"blobs": state_dict_to_caffe2_blobs(source.state_dict())}, f)
    fresh = C2Net()
    assert load_checkpoint(pkl, fresh, convert_from_caffe2=True) == -1
    for key, value in source.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(fresh.state_dict()[key], value), key
    finetune = C2Net(num_classes=7)
    load_checkpoint(pkl, finetune, convert_from_caffe2=True)
    assert torch.equal(finetune.s1.pathway0_stem.conv.weight, source.s1.pathway0_stem.conv.weight)
    assert "head.projection.weight: checkpoint (3, 4) vs model (7, 4)" in logs.text


def test_inflation_from_2d_weights(tmp_path):
    torch.manual_seed(0)
    state = C2Net().state_dict()
    state["s1.pathway0_stem.conv.weight"] = state["s1.pathway0_stem.conv.weight"][:, :, 0]
    path = str(tmp_path / "r50_2d.pyth")
    torch.save({"model_state": state}, path)
    video = C2Net(t=3)
    assert load_checkpoint(path, video, inflation=True) == -1
    kernel = state["s1.pathway0_stem.conv.weight"]
    expected = kernel.unsqueeze(2).repeat(1, 1, 3, 1, 1) / 3
    assert torch.allclose(video.s1.pathway0_stem.conv.weight, expected)
    assert torch.equal(video.head.projection.bias, state["head.projection.bias"])


def test_inflation_of_torchvision_weights_into_sub_bn(tmp_path):
    torch.manual_seed(0)
    state = {
        "conv1.weight": torch.randn(4, 3, 3, 3),
        "bn1.weight": torch.rand(4),
        "bn1.bias": torch.rand(4),
        "bn1.running_mean": torch.rand(4),
        "bn1.running_var": torch.rand(4),
        "layer1.0.conv1.weight": torch.randn(4, 4, 1, 1),  # not in this small model
        "fc.weight": torch.randn(1000, 4),
    }
    path = str(tmp_path / "resnet_tv.pth")
    torch.save(state, path)  # a bare torchvision state dict
    video = C2Net(t=3, norm=SubBatchNorm3d(4, num_splits=2))
    head_before = video.head.projection.weight.clone()
    load_checkpoint(path, video, inflation=True)
    bn = video.s1.pathway0_stem.bn
    assert torch.equal(bn.weight, state["bn1.weight"])
    assert torch.equal(bn.bn.running_mean, state["bn1.running_mean"])
    assert torch.equal(bn.split_bn.running_var, state["bn1.running_var"].repeat(2))
    expected = state["conv1.weight"].unsqueeze(2).repeat(1, 1, 3, 1, 1) / 3
    assert torch.allclose(video.s1.pathway0_stem.conv.weight, expected)
    assert torch.equal(video.head.projection.weight, head_before)
