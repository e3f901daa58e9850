"""Batch-norm variants chosen by ``BN.NORM_TYPE``, their registry, and in-place switching.

* ``batchnorm``: :class:`torch.nn.BatchNorm3d`.
* ``sub_batchnorm``: :class:`SubBatchNorm3d`, statistics over ``BN.NUM_SPLITS`` groups of clips
  of the per-process batch (multigrid keeps the BN batch at ``MULTIGRID.BN_BASE_SIZE`` clips while
  the batch grows). State-dict layout as PySlowFast: ``weight``, ``bias``, ``bn.*`` (aggregated
  statistics used at evaluation) and ``split_bn.*`` (per-split statistics, ``C * splits`` long).
* ``sync_batchnorm``: :class:`SyncBatchNorm3d` (``slowfast.models.sync_bn``), statistics over
  groups of ``BN.NUM_SYNC_DEVICES`` processes (any backend, gloo included); plain BN when not
  distributed.

Blocks receive a *norm factory* (:func:`norm_factory`, or :func:`get_norm` for a config), a
callable ``factory(num_features)`` with epsilon and momentum already bound, so the norm is a
choice, not a branch.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError
from slowfast.models.sync_bn import SyncBatchNorm3d
from slowfast.utils.registry import Registry

NormFactory = Callable[[int], nn.Module]

NORM_REGISTRY = Registry("NORM")
NORM_REGISTRY.__doc__ = """Norm layers by ``BN.NORM_TYPE``; the registered names are its values.

Contract: an entry is a callable registered under its ``__name__`` (the cfg value) and called as
``entry(num_features, eps=..., momentum=..., num_splits=..., num_sync_devices=...)`` (``BN.*``);
it returns a module normalising ``N x num_features x T x H x W`` with affine ``weight`` and
``bias``, and ignores the options it has no use for.
"""


def aggregate_split_stats(
    split_mean: torch.Tensor, split_var: torch.Tensor, num_splits: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of the union of ``num_splits`` equal-sized splits, from the per-split
    statistics laid out split-major (``num_splits * C``): the average of the split means, and
    the average split variance plus the variance of the split means.
    """
    means = split_mean.view(num_splits, -1)
    mean = means.mean(0)
    return mean, split_var.view(num_splits, -1).mean(0) + ((means - mean) ** 2).mean(0)


class SubBatchNorm3d(nn.Module):
    """BN whose training statistics are computed separately over ``num_splits`` groups of clips.

    The batch is viewed as ``(N / num_splits, C * num_splits, ...)``, so clip ``i`` lands in
    split ``i % num_splits`` and one ``batch_norm`` call normalises every split with its own
    statistics (kept in ``split_bn``, PySlowFast's layout). At evaluation the single set in ``bn``
    is used; it is the aggregate of the splits (see :meth:`aggregate_stats`), refreshed
    automatically whenever the module goes from training to evaluation mode.
    """

    def __init__(
        self, num_features: int, num_splits: int, eps: float = 1e-5, momentum: float = 0.1
    ) -> None:
        super().__init__()
        if num_splits < 1:
            raise ValueError(f"SubBatchNorm3d: num_splits must be >= 1, got {num_splits}")
        self.num_features = num_features
        self.num_splits = num_splits
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.bn = nn.BatchNorm3d(num_features, eps=eps, momentum=momentum, affine=False)
        self.split_bn = nn.BatchNorm3d(
            num_features * num_splits, eps=eps, momentum=momentum, affine=False
        )

    @property
    def eps(self) -> float:
        return self.bn.eps

    @property
    def momentum(self) -> float | None:
        return self.bn.momentum

    @torch.no_grad()
    def aggregate_stats(self) -> None:
        """Set ``bn``'s running mean/var to those of the union of the splits.

        Mean: the average of the split means. Variance: the average split variance plus the
        variance of the split means (equal-sized splits).
        """
        mean, var = aggregate_split_stats(
            self.split_bn.running_mean, self.split_bn.running_var, self.num_splits
        )
        self.bn.running_mean.copy_(mean)
        self.bn.running_var.copy_(var)
        self.bn.num_batches_tracked.copy_(self.split_bn.num_batches_tracked)

    def train(self, mode: bool = True) -> SubBatchNorm3d:
        if self.training and not mode:
            self.aggregate_stats()
        return super().train(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            n, c = x.shape[:2]
            if n % self.num_splits:
                raise ValueError(
                    f"SubBatchNorm3d: batch of {n} clips is not divisible into "
                    f"BN.NUM_SPLITS={self.num_splits} splits"
                )
            folded = x.reshape(n // self.num_splits, c * self.num_splits, *x.shape[2:])
            x = self.split_bn(folded).reshape(x.shape)
        else:
            x = self.bn(x)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * self.weight.view(shape) + self.bias.view(shape)

    def extra_repr(self) -> str:
        return f"{self.num_features}, num_splits={self.num_splits}, eps={self.eps}"


def is_norm(module: nn.Module) -> bool:
    """Whether ``module`` is one of the batch norms this package builds or converts."""
    return isinstance(module, (nn.BatchNorm3d, SubBatchNorm3d))


@NORM_REGISTRY.register()
def batchnorm(num_features: int, *, eps: float, momentum: float, **_unused: int) -> nn.Module:
    """``BN.NORM_TYPE batchnorm``: :class:`torch.nn.BatchNorm3d`."""
    return nn.BatchNorm3d(num_features, eps=eps, momentum=momentum)


@NORM_REGISTRY.register()
def sub_batchnorm(
    num_features: int, *, eps: float, momentum: float, num_splits: int, **_unused: int
) -> nn.Module:
    """``BN.NORM_TYPE sub_batchnorm``: :class:`SubBatchNorm3d` over ``num_splits`` splits."""
    return SubBatchNorm3d(num_features, num_splits, eps=eps, momentum=momentum)


@NORM_REGISTRY.register()
def sync_batchnorm(
    num_features: int, *, eps: float, momentum: float, num_sync_devices: int, **_unused: int
) -> nn.Module:
    """``BN.NORM_TYPE sync_batchnorm``: :class:`SyncBatchNorm3d` over ``num_sync_devices``."""
    return SyncBatchNorm3d(num_features, num_sync_devices, eps=eps, momentum=momentum)


def _norm_entry(norm_type: str) -> Callable[..., nn.Module]:
    if norm_type not in NORM_REGISTRY:
        names = ", ".join(NORM_REGISTRY.names())
        raise ConfigError(f"BN.NORM_TYPE: must be one of {names}, got {norm_type!r}")
    return NORM_REGISTRY.get(norm_type)


def norm_factory(
    norm_type: str = "batchnorm",
    *,
    eps: float = 1e-5,
    momentum: float = 0.1,
    num_splits: int = 1,
    num_sync_devices: int = 1,
) -> NormFactory:
    """``factory(num_features) -> nn.Module`` building registered ``norm_type`` layers (see
    :data:`NORM_REGISTRY`) with these options; an unknown type fails here, before any layer."""
    options = {"num_splits": num_splits, "num_sync_devices": num_sync_devices}
    return partial(_norm_entry(norm_type), eps=eps, momentum=momentum, **options)


def get_norm(cfg: CfgNode) -> NormFactory:
    """:func:`norm_factory` for ``cfg.BN`` (NORM_TYPE, EPSILON, MOMENTUM, NUM_SPLITS, ...)."""
    return norm_factory(
        cfg.BN.NORM_TYPE,
        eps=cfg.BN.EPSILON,
        momentum=cfg.BN.MOMENTUM,
        num_splits=cfg.BN.NUM_SPLITS,
        num_sync_devices=cfg.BN.NUM_SYNC_DEVICES,
    )


def _norm_state(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The (running mean, running var, batches tracked) a module would use at evaluation."""
    if isinstance(module, SubBatchNorm3d):
        module.aggregate_stats()
        inner = module.bn
    else:
        inner = module
    return inner.running_mean, inner.running_var, inner.num_batches_tracked


def _convert_one(module: nn.Module, norm_type: str, splits: int, sync: int) -> nn.Module:
    """``module`` re-expressed as ``norm_type``; parameters are shared, statistics copied."""
    if norm_type == "sync_batchnorm" and isinstance(module, SyncBatchNorm3d):
        module.num_sync_devices = sync
        return module
    if norm_type == "batchnorm" and type(module) is nn.BatchNorm3d:
        return module
    if (
        norm_type == "sub_batchnorm"
        and isinstance(module, SubBatchNorm3d)
        and module.num_splits == splits
    ):
        return module
    weight, bias = module.weight, module.bias
    if weight is None or bias is None:
        raise ValueError("convert_norm: only affine batch norms can be converted")
    mean, var, tracked = _norm_state(module)
    make = norm_factory(
        norm_type,
        eps=module.eps,
        momentum=module.momentum,
        num_splits=splits,
        num_sync_devices=sync,
    )
    new = make(weight.numel())
    new.to(device=weight.device)
    # Share the Parameter objects so optimiser state keyed on them stays valid.
    new.weight, new.bias = weight, bias
    with torch.no_grad():
        target = new.bn if isinstance(new, SubBatchNorm3d) else new
        target.running_mean.copy_(mean)
        target.running_var.copy_(var)
        target.num_batches_tracked.copy_(tracked)
        if isinstance(new, SubBatchNorm3d):
            new.split_bn.running_mean.copy_(mean.repeat(splits))
            new.split_bn.running_var.copy_(var.repeat(splits))
            new.split_bn.num_batches_tracked.copy_(tracked)
    new.train(module.training)
    for attr in ("is_final_norm",):
        if hasattr(module, attr):
            setattr(new, attr, getattr(module, attr))
    return new


def convert_norm(model: nn.Module, cfg: CfgNode) -> nn.Module:
    """Switch every norm layer of ``model`` in place to ``cfg.BN``'s type and split/sync sizes.

    Weights and biases stay the *same Parameter objects* (so ``model.parameters()`` yields the
    same tensors in the same order and an optimiser's state remains valid); running statistics
    are carried over exactly (sub-BN: the aggregated statistics, replicated into every split).
    Layers already of the requested kind are kept as they are. Returns ``model``.
    """
    norm_type = cfg.BN.NORM_TYPE
    _norm_entry(norm_type)
    splits, sync = int(cfg.BN.NUM_SPLITS), int(cfg.BN.NUM_SYNC_DEVICES)
    for parent in list(model.modules()):
        if isinstance(parent, SubBatchNorm3d):
            continue  # its inner bn / split_bn are statistics holders, not layers
        for name, child in list(parent.named_children()):
            if is_norm(child):
                new = _convert_one(child, norm_type, splits, sync)
                if new is not child:
                    setattr(parent, name, new)
    return model


def aggregate_sub_bn_stats(model: nn.Module) -> int:
    """Refresh the evaluation statistics of every :class:`SubBatchNorm3d`; returns how many."""
    count = 0
    for m in model.modules():
        if isinstance(m, SubBatchNorm3d):
            m.aggregate_stats()
            count += 1
    return count
