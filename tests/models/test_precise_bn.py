import logging

import pytest
import torch
from torch import nn

from slowfast.models.norm import SubBatchNorm3d
from slowfast.models.precise_bn import update_bn_stats


class TwoPathway(nn.Module):
    """BN on pathway 0; ``unused`` never runs in training."""

    def __init__(self, norm=None):
        super().__init__()
        self.bn = norm or nn.BatchNorm3d(2)
        self.unused = nn.BatchNorm3d(2)

    def forward(self, inputs):
        assert isinstance(inputs, list) and len(inputs) == 2
        return self.bn(inputs[0]) + inputs[1].mean()


def _loader(num_batches=5, batch=4):
    torch.manual_seed(0)
    shift = torch.tensor([3.0, -1.0]).view(1, 2, 1, 1, 1)
    scale = torch.tensor([2.0, 0.5]).view(1, 2, 1, 1, 1)
    batches = []
    for _i in range(num_batches):
        frames = [torch.randn(batch, 2, 2, 3, 3) * scale + shift, torch.zeros(batch, 1)]
        batches.append((frames, torch.zeros(batch), torch.arange(batch), {}))
    return batches


def _truth(loader, count):
    data = torch.cat([b[0][0] for b in loader[:count]])
    per_channel = data.transpose(0, 1).reshape(2, -1)
    return per_channel.mean(1), per_channel.var(1, unbiased=False)


def test_running_stats_equal_data_stats():
    model = TwoPathway().eval()
    unused_mean = model.unused.running_mean.clone()
    loader = _loader()
    assert update_bn_stats(model, loader, num_batches=3) == 3
    mean, var = _truth(loader, 3)
    assert torch.allclose(model.bn.running_mean, mean, atol=1e-5)
    assert torch.allclose(model.bn.running_var, var, rtol=1e-4)
    assert torch.equal(model.unused.running_mean, unused_mean)  # untouched, not zeroed
    assert not model.training and not model.bn.training  # mode restored
    assert model.bn.momentum == 0.1
    # More batches than the loader has: all of them are used.
    assert update_bn_stats(model, loader, num_batches=50) == 5


def test_sub_bn_evaluation_stats_are_aggregated():
    model = TwoPathway(norm=SubBatchNorm3d(2, num_splits=2))
    loader = _loader()
    update_bn_stats(model, loader, num_batches=5)
    mean, _ = _truth(loader, 5)
    # Splits hold clips 0, 2 and 1, 3 of each batch; their average is the data mean.
    assert torch.allclose(model.bn.bn.running_mean, mean, atol=1e-5)


def test_no_bn_is_a_logged_no_op(caplog):
    logger = logging.getLogger("slowfast")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="slowfast")
    try:
        model = nn.Sequential(nn.Flatten(), nn.Linear(1, 1))
        assert update_bn_stats(model, iter(()), num_batches=10) == 0
        assert "no BN layer" in caplog.text
    finally:
        logger.removeHandler(caplog.handler)


def test_short_loader_without_len_is_an_error():
    model = TwoPathway()
    before = model.bn.running_mean.clone()
    with pytest.raises(RuntimeError, match="Precise BN"):
        update_bn_stats(model, iter(_loader(2)), num_batches=4)
    assert torch.equal(model.bn.running_mean, before) and model.bn.momentum == 0.1
    assert not model.bn._forward_pre_hooks  # no hook left behind: training goes on
    model(_loader(1)[0][0])
    model(_loader(1)[0][0])
