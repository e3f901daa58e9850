"""Synchronised batch norm over groups of processes (``BN.NORM_TYPE sync_batchnorm``).

Statistics are all-reduced within groups of ``BN.NUM_SYNC_DEVICES`` consecutive processes with a
matching backward, on any ``torch.distributed`` backend (gloo included).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn as nn


class _GroupSum(torch.autograd.Function):
    """Sum a tensor over the processes of a group; the gradient is summed the same way.

    Every process's loss depends on every process's input through the shared statistics, so the
    gradient reaching one process's input is the sum of the gradients of all processes' outputs.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, group) -> torch.Tensor:  # type: ignore[override]
        ctx.group = group
        out = tensor.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad, None


# (world size, group size) -> the process group this rank belongs to. Every rank creates all
# groups in the same order (``new_group`` is collective), once per setting.
_SYNC_GROUPS: dict[tuple[int, int], object] = {}


def _sync_group(group_size: int):
    world = dist.get_world_size()
    key = (world, group_size)
    if key not in _SYNC_GROUPS:
        if group_size > world or world % group_size:
            raise ValueError(
                f"BN.NUM_SYNC_DEVICES={group_size} must divide the number of processes ({world})"
            )
        mine = None
        rank = dist.get_rank()
        for start in range(0, world, group_size):
            ranks = list(range(start, start + group_size))
            group = dist.new_group(ranks)
            if rank in ranks:
                mine = group
        _SYNC_GROUPS[key] = mine
    return _SYNC_GROUPS[key]


class SyncBatchNorm3d(nn.BatchNorm3d):
    """BN with statistics over groups of ``num_sync_devices`` consecutive processes.

    Each process all-reduces per-channel [count, sum, sum of squares] within its group, so the
    normalisation equals plain BN over the concatenated group batch (outputs and gradients).
    Works with any ``torch.distributed`` backend. Outside training, with one device per group or
    without an initialised process group it is exactly :class:`torch.nn.BatchNorm3d`; the state
    dict is identical to it.
    """

    def __init__(
        self,
        num_features: int,
        num_sync_devices: int = 1,
        eps: float = 1e-5,
        momentum: float = 0.1,
    ) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.num_sync_devices = num_sync_devices

    def _synced(self) -> bool:
        return (
            self.training
            and self.num_sync_devices > 1
            and dist.is_available()
            and dist.is_initialized()
            and dist.get_world_size() > 1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._synced():
            return super().forward(x)
        group = _sync_group(self.num_sync_devices)
        dims = [0] + list(range(2, x.dim()))
        count = torch.full((1,), x.numel() / x.shape[1], dtype=torch.float32, device=x.device)
        xf = x.float()
        local = torch.cat([count, xf.sum(dims), (xf * xf).sum(dims)])
        total = _GroupSum.apply(local, group)
        n = total[0]
        mean = total[1 : 1 + self.num_features] / n
        var = (total[1 + self.num_features :] / n - mean * mean).clamp_min(0.0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum
                if m is None:
                    m = 1.0 / float(self.num_batches_tracked)
                unbiased = var * (n / (n - 1).clamp_min(1.0))
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), m)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), m)
        scale = torch.rsqrt(var + self.eps)
        shift = -mean * scale
        if self.affine:
            scale = scale * self.weight
            shift = shift * self.weight + self.bias
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return (xf * scale.view(shape) + shift.view(shape)).to(x.dtype)
