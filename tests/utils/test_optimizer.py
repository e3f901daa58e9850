import pytest
import torch
from torch import nn

from slowfast.config.defaults import get_cfg
from slowfast.config.errors import ConfigError
from slowfast.utils.optimizer import clip_gradients, construct_optimizer


class SubBN(nn.Module):
    """PySlowFast's sub-BN layout: the wrapper owns weight/bias, ``bn``/``split_bn`` hold stats."""

    def __init__(self, c, splits=2):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.bn = nn.BatchNorm3d(c, affine=False)
        self.split_bn = nn.BatchNorm3d(c * splits, affine=False)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 1)  # weight 5-D, bias 1-D
        self.bn = nn.BatchNorm3d(4)
        self.sub = SubBN(4)
        self.head = nn.Linear(4, 2)
        self.frozen = nn.Linear(2, 2)
        self.frozen.requires_grad_(False)


def _groups(opt):
    return {g["name"]: g for g in opt.param_groups}


def test_param_groups_and_weight_decay():
    cfg = get_cfg()
    cfg.SOLVER.WEIGHT_DECAY = 1e-4
    cfg.BN.WEIGHT_DECAY = 0.0
    model = Tiny()
    opt = construct_optimizer(model, cfg)
    groups = _groups(opt)
    assert [g["name"] for g in opt.param_groups] == ["bn", "non_bn"]  # empty zero group dropped
    ids = lambda ps: {id(p) for p in ps}  # noqa: E731
    assert ids(groups["bn"]["params"]) == ids(
        [model.bn.weight, model.bn.bias, model.sub.weight, model.sub.bias]
    )
    assert groups["bn"]["weight_decay"] == 0.0
    assert ids(groups["non_bn"]["params"]) == ids(
        [model.conv.weight, model.conv.bias, model.head.weight, model.head.bias]
    )
    assert groups["non_bn"]["weight_decay"] == 1e-4
    assert isinstance(opt, torch.optim.SGD)
    assert opt.defaults["momentum"] == cfg.SOLVER.MOMENTUM and opt.defaults["nesterov"]
    # The groups hold the model's own Parameter objects.
    assert any(p is model.conv.weight for p in groups["non_bn"]["params"])


def test_zero_wd_1d_keeps_norms_in_bn_group():
    cfg = get_cfg()
    cfg.SOLVER.ZERO_WD_1D_PARAM = True
    cfg.BN.WEIGHT_DECAY = 5e-5
    model = Tiny()
    model.no_weight_decay = lambda: {"head.weight"}
    groups = _groups(construct_optimizer(model, cfg))
    zero = {id(p) for p in groups["zero"]["params"]}
    assert zero == {id(model.conv.bias), id(model.head.bias), id(model.head.weight)}
    assert groups["zero"]["weight_decay"] == 0.0
    assert [p is model.conv.weight for p in groups["non_bn"]["params"]] == [True]
    assert groups["bn"]["weight_decay"] == 5e-5 and len(groups["bn"]["params"]) == 4


def test_adam_adamw_and_errors():
    cfg = get_cfg()
    cfg.SOLVER.OPTIMIZING_METHOD = "adamw"
    cfg.SOLVER.BETAS = (0.8, 0.95)
    opt = construct_optimizer(Tiny(), cfg)
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["betas"] == (0.8, 0.95)
    cfg.SOLVER.OPTIMIZING_METHOD = "adam"
    assert isinstance(construct_optimizer(Tiny(), cfg), torch.optim.Adam)
    cfg.SOLVER.OPTIMIZING_METHOD = "lamb"
    with pytest.raises(ConfigError, match="SOLVER.OPTIMIZING_METHOD.*lamb"):
        construct_optimizer(Tiny(), cfg)
    cfg = get_cfg()
    cfg.SOLVER.DAMPENING = 0.1
    with pytest.raises(ConfigError, match="SOLVER.NESTEROV"):
        construct_optimizer(Tiny(), cfg)


def test_optimizer_state_survives_our_norm_conversion():
    """convert_norm (a multigrid phase change) swaps norm layers in place: the optimizer built
    before it keeps its groups and momentum, and the next step moves the swapped layers' weights
    exactly as an unconverted model's (a sub-BN layer computes plain BN's output in eval mode
    and trains the same parameters)."""
    from slowfast.models.norm import SubBatchNorm3d, convert_norm

    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv3d(3, 4, 1), nn.BatchNorm3d(4))
    model = nn.Sequential(nn.Conv3d(3, 4, 1), nn.BatchNorm3d(4))
    model.load_state_dict(plain.state_dict())
    cfg = get_cfg()
    opts = [construct_optimizer(m, cfg) for m in (plain, model)]
    x = torch.randn(4, 3, 2, 3, 3)
    for m, opt in zip((plain, model), opts):
        m(x).square().mean().backward()
        opt.step()
        opt.zero_grad()
    weight = model[1].weight
    cfg.BN.NORM_TYPE, cfg.BN.NUM_SPLITS = "sub_batchnorm", 1
    convert_norm(model, cfg)
    assert isinstance(model[1], SubBatchNorm3d) and model[1].weight is weight
    assert "momentum_buffer" in opts[1].state[weight]  # the state is still attached
    for m, opt in zip((plain, model), opts):
        m(x).square().mean().backward()
        opt.step()
    for a, b in zip(plain.parameters(), model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_clip_gradients():
    cfg = get_cfg()
    lin = nn.Linear(2, 1, bias=False)
    lin.weight.grad = torch.tensor([[3.0, 4.0]])
    assert clip_gradients(lin, cfg) is None  # nothing configured: gradients untouched
    assert lin.weight.grad.tolist() == [[3.0, 4.0]]
    cfg.SOLVER.CLIP_GRAD_L2NORM = 1.0
    assert clip_gradients(lin, cfg) == pytest.approx(5.0)
    assert torch.allclose(lin.weight.grad, torch.tensor([[0.6, 0.8]]), atol=1e-5)
    cfg.SOLVER.CLIP_GRAD_VAL = 0.5  # takes precedence over CLIP_GRAD_L2NORM
    lin.weight.grad = torch.tensor([[3.0, -0.25]])
    assert clip_gradients(lin, cfg) == pytest.approx((9 + 0.0625) ** 0.5)
    assert lin.weight.grad.tolist() == [[0.5, -0.25]]
