"""Pooling attention and the transformer block of MViT (v1: Fan et al., ICCV 2021; v2: Li et al.,
CVPR 2022), for any token grid.

Tokens are ``B x N x C`` with ``N = T*H*W`` (+1 with a class token first); every function carries
the grid ``(T, H, W)`` beside them. Pooling Q shrinks the grid; pooling K/V shrinks what each query
attends to. v2's decomposed relative positions are tables sized for the grid the model was built
for and resampled (linearly) to whatever grid arrives, so a multigrid shape or a larger test crop
needs no change. Parameter names are PySlowFast's (``attn.qkv``, ``attn.pool_q``, ``attn.norm_q``,
``attn.rel_pos_h``, ``mlp.fc1``, ...).

The module is longer than the ~350-line rule because the attention, its relative-position terms
and the block that wraps it are read together: each step's token layout is the next one's input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from slowfast.models.layers import DropPath

Grid = Sequence[int]
POOL_MODES = ("conv", "conv_unshared", "avg", "max")


def pool_tokens(
    x: torch.Tensor,
    pool: nn.Module | None,
    grid: Grid,
    has_cls: bool,
    norm: nn.Module | None = None,
) -> tuple[torch.Tensor, list[int]]:
    """Pool ``x`` (``B x heads x N x C``, or ``B x N x C``) over its ``T x H x W`` grid with
    ``pool``; the class token passes through. Returns the tokens and the new grid."""
    if pool is None:
        return x, list(grid)
    squeeze = x.dim() == 3
    if squeeze:
        x = x.unsqueeze(1)
    if has_cls:
        cls_tok, x = x[:, :, :1], x[:, :, 1:]
    b, heads, _, c = x.shape
    t, h, w = grid
    x = x.reshape(b * heads, t, h, w, c).permute(0, 4, 1, 2, 3)
    x = pool(x)
    grid = list(x.shape[2:])
    x = x.reshape(b, heads, c, -1).transpose(2, 3)
    if has_cls:
        x = torch.cat((cls_tok, x), dim=2)
    if norm is not None:
        x = norm(x)
    return (x.squeeze(1) if squeeze else x), grid


def resample_table(table: torch.Tensor, length: int) -> torch.Tensor:
    """A relative-position table (``L x C``) resampled linearly to ``length`` rows."""
    if table.shape[0] == length:
        return table
    out = F.interpolate(table.t().unsqueeze(0), size=length, mode="linear")
    return out.squeeze(0).t()


def relative_index(q_size: int, k_size: int) -> torch.Tensor:
    """``q_size x k_size`` indices into a table of ``2 * max(q_size, k_size) - 1`` rows: the
    distance of query i to key j on a common scale (the coarser axis stretched to the finer)."""
    q_ratio = max(k_size / q_size, 1.0)
    k_ratio = max(q_size / k_size, 1.0)
    dist = torch.arange(q_size)[:, None] * q_ratio - torch.arange(k_size)[None, :] * k_ratio
    return (dist + (k_size - 1) * k_ratio).long()


def add_rel_pos(
    attn: torch.Tensor,
    q: torch.Tensor,
    has_cls: bool,
    q_grid: Grid,
    k_grid: Grid,
    rel_pos_h: torch.Tensor | None = None,
    rel_pos_w: torch.Tensor | None = None,
    rel_pos_t: torch.Tensor | None = None,
) -> torch.Tensor:
    """Add v2's decomposed relative positions to ``attn``'s token part, in place and in one
    pass: ``q . R_h[dh] + q . R_w[dw]`` when the spatial tables are given, ``q . R_t[dt]`` when
    the temporal one is, for every query-key pair."""
    s = 1 if has_cls else 0
    qt, qh, qw = q_grid
    kt, kh, kw = k_grid
    b, heads, _, dim = q.shape
    r_q = q[:, :, s:].reshape(b, heads, qt, qh, qw, dim)
    view = attn[:, :, s:, s:].view(b, heads, qt, qh, qw, kt, kh, kw)
    if rel_pos_h is not None and rel_pos_w is not None:
        rh = resample_table(rel_pos_h, 2 * max(qh, kh) - 1)[relative_index(qh, kh)]
        rw = resample_table(rel_pos_w, 2 * max(qw, kw) - 1)[relative_index(qw, kw)]
        rel_h = torch.einsum("bythwc,hkc->bythwk", r_q, rh)
        rel_w = torch.einsum("bythwc,wkc->bythwk", r_q, rw)
        view = view + rel_h[:, :, :, :, :, None, :, None] + rel_w[:, :, :, :, :, None, None, :]
    if rel_pos_t is not None:
        rt = resample_table(rel_pos_t, 2 * max(qt, kt) - 1)[relative_index(qt, kt)]
        # Per query frame t: (B * heads * H * W) x C times C x kt, as one batched matmul over t.
        by_frame = r_q.permute(2, 0, 1, 3, 4, 5).reshape(qt, b * heads * qh * qw, dim)
        rel = torch.matmul(by_frame, rt.transpose(1, 2)).transpose(0, 1)
        rel = rel.reshape(b, heads, qh, qw, qt, kt).permute(0, 1, 4, 2, 3, 5)
        view = view + rel[:, :, :, :, :, :, None, None]
    attn[:, :, s:, s:] = view.view(b, heads, qt * qh * qw, kt * kh * kw)
    return attn


def _pool_layer(
    mode: str, dim: int, kernel: Sequence[int], stride: Sequence[int]
) -> nn.Module | None:
    if not kernel:
        return None
    padding = [k // 2 for k in kernel]
    if mode == "avg":
        return nn.AvgPool3d(kernel, stride, padding, ceil_mode=False)
    if mode == "max":
        return nn.MaxPool3d(kernel, stride, padding, ceil_mode=False)
    return nn.Conv3d(dim, dim, kernel, stride=stride, padding=padding, groups=dim, bias=False)


class MultiScaleAttention(nn.Module):
    """Multi-head pooling attention: Q, K, V projected (jointly, ``qkv``, or separately), pooled
    by ``mode`` ("conv": a depthwise conv per head + norm; "conv_unshared": one over all heads,
    needs ``pool_first``; "avg" / "max"), attention with optional v2 relative positions and
    residual pooling (pooled Q added to the output), and an output projection."""

    def __init__(
        self,
        *,
        dim: int,
        dim_out: int,
        input_size: Grid,
        num_heads: int = 8,
        qkv_bias: bool = False,
        drop_rate: float = 0.0,
        kernel_q: Sequence[int] = (1, 1, 1),
        kernel_kv: Sequence[int] = (1, 1, 1),
        stride_q: Sequence[int] = (1, 1, 1),
        stride_kv: Sequence[int] = (1, 1, 1),
        norm_layer: Callable[[int], nn.Module] = nn.LayerNorm,
        has_cls_embed: bool = True,
        mode: str = "conv",
        pool_first: bool = False,
        rel_pos_spatial: bool = False,
        rel_pos_temporal: bool = False,
        rel_pos_zero_init: bool = False,
        residual_pooling: bool = False,
        separate_qkv: bool = False,
    ) -> None:
        super().__init__()
        if mode not in POOL_MODES:
            raise ValueError(f"MVIT.MODE must be one of {POOL_MODES}, got {mode!r}")
        if mode == "conv_unshared" and not pool_first:
            raise ValueError("MVIT.MODE conv_unshared needs MVIT.POOL_FIRST True")
        self.pool_first = pool_first
        self.separate_qkv = separate_qkv
        self.drop_rate = drop_rate
        self.num_heads = num_heads
        self.dim_out = dim_out
        head_dim = dim_out // num_heads
        self.scale = head_dim**-0.5
        self.has_cls_embed = has_cls_embed
        self.mode = mode
        if pool_first or separate_qkv:
            self.q = nn.Linear(dim, dim_out, bias=qkv_bias)
            self.k = nn.Linear(dim, dim_out, bias=qkv_bias)
            self.v = nn.Linear(dim, dim_out, bias=qkv_bias)
        else:
            self.qkv = nn.Linear(dim, dim_out * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim_out, dim_out)
        if drop_rate > 0.0:
            self.proj_drop = nn.Dropout(drop_rate)

        # A 1x1x1 kernel at stride 1 pools nothing: no layer.
        if math.prod(kernel_q) == 1 and math.prod(stride_q) == 1:
            kernel_q = ()
        if math.prod(kernel_kv) == 1 and math.prod(stride_kv) == 1:
            kernel_kv = ()
        if pool_first:
            dim_conv = dim // num_heads if mode == "conv" else dim
        else:
            dim_conv = dim_out // num_heads if mode == "conv" else dim_out
        self.pool_q = _pool_layer(mode, dim_conv, kernel_q, stride_q)
        if mode.startswith("conv"):
            self.norm_q = norm_layer(dim_conv) if kernel_q else None
        self.pool_k = _pool_layer(mode, dim_conv, kernel_kv, stride_kv)
        if mode.startswith("conv"):
            self.norm_k = norm_layer(dim_conv) if kernel_kv else None
        self.pool_v = _pool_layer(mode, dim_conv, kernel_kv, stride_kv)
        if mode.startswith("conv"):
            self.norm_v = norm_layer(dim_conv) if kernel_kv else None

        self.rel_pos_spatial = rel_pos_spatial
        self.rel_pos_temporal = rel_pos_temporal
        if rel_pos_spatial:
            if input_size[1] != input_size[2]:
                raise ValueError(f"spatial relative positions need a square grid, got {input_size}")
            size = input_size[1]
            q_size = size // stride_q[1] if len(stride_q) > 0 else size
            kv_size = size // stride_kv[1] if len(stride_kv) > 0 else size
            length = 2 * max(q_size, kv_size) - 1
            self.rel_pos_h = nn.Parameter(torch.zeros(length, head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(length, head_dim))
            if not rel_pos_zero_init:
                nn.init.trunc_normal_(self.rel_pos_h, std=0.02)
                nn.init.trunc_normal_(self.rel_pos_w, std=0.02)
        if rel_pos_temporal:
            self.rel_pos_t = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dim))
            if not rel_pos_zero_init:
                nn.init.trunc_normal_(self.rel_pos_t, std=0.02)
        self.residual_pooling = residual_pooling

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.reshape(b, n, self.num_heads, -1).permute(0, 2, 1, 3)

    def forward(self, x: torch.Tensor, grid: Grid) -> tuple[torch.Tensor, list[int]]:
        b, n, _ = x.shape
        if self.pool_first:
            fold = 1 if self.mode == "conv_unshared" else self.num_heads
            q = k = v = x.reshape(b, n, fold, -1).permute(0, 2, 1, 3)
        elif self.separate_qkv:
            q, k, v = self._heads(self.q(x)), self._heads(self.k(x)), self._heads(self.v(x))
        else:
            qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]

        cls = self.has_cls_embed
        q, q_grid = pool_tokens(q, self.pool_q, grid, cls, getattr(self, "norm_q", None))
        k, k_grid = pool_tokens(k, self.pool_k, grid, cls, getattr(self, "norm_k", None))
        v, _ = pool_tokens(v, self.pool_v, grid, cls, getattr(self, "norm_v", None))

        if self.pool_first:

            def project(t: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
                return self._heads(linear(t.permute(0, 2, 1, 3).reshape(b, t.shape[2], -1)))

            q, k, v = project(q, self.q), project(k, self.k), project(v, self.v)

        attn = (q * self.scale) @ k.transpose(-2, -1)
        if self.rel_pos_spatial or self.rel_pos_temporal:
            attn = add_rel_pos(
                attn,
                q,
                cls,
                q_grid,
                k_grid,
                getattr(self, "rel_pos_h", None),
                getattr(self, "rel_pos_w", None),
                getattr(self, "rel_pos_t", None),
            )
        x = attn.softmax(dim=-1) @ v
        if self.residual_pooling:
            if cls:
                x[:, :, 1:, :] += q[:, :, 1:, :]
            else:
                x = x + q
        x = self.proj(x.transpose(1, 2).reshape(b, -1, self.dim_out))
        if self.drop_rate > 0.0:
            x = self.proj_drop(x)
        return x, q_grid


class Mlp(nn.Module):
    """Linear, GELU, (dropout), linear, (dropout)."""

    def __init__(
        self, in_features: int, hidden_features: int, out_features: int, drop_rate: float = 0.0
    ) -> None:
        super().__init__()
        self.drop_rate = drop_rate
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, out_features)
        if drop_rate > 0.0:
            self.drop = nn.Dropout(drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.fc1(x))
        if self.drop_rate > 0.0:
            x = self.drop(x)
        x = self.fc2(x)
        return self.drop(x) if self.drop_rate > 0.0 else x


class MultiScaleBlock(nn.Module):
    """Pre-norm transformer block around :class:`MultiScaleAttention`: the shortcut is max-pooled
    like Q (``pool_skip``) and projected (``proj``) where the width changes, in the attention
    (v2, ``dim_mul_in_att``) or in the MLP (v1); stochastic depth on both branches."""

    def __init__(
        self,
        *,
        dim: int,
        dim_out: int,
        num_heads: int,
        input_size: Grid,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        drop_rate: float = 0.0,
        drop_path: float = 0.0,
        layer_scale_init_value: float = 0.0,
        norm_layer: Callable[[int], nn.Module] = nn.LayerNorm,
        kernel_q: Sequence[int] = (1, 1, 1),
        kernel_kv: Sequence[int] = (1, 1, 1),
        stride_q: Sequence[int] = (1, 1, 1),
        stride_kv: Sequence[int] = (1, 1, 1),
        mode: str = "conv",
        has_cls_embed: bool = True,
        pool_first: bool = False,
        rel_pos_spatial: bool = False,
        rel_pos_temporal: bool = False,
        rel_pos_zero_init: bool = False,
        residual_pooling: bool = False,
        dim_mul_in_att: bool = False,
        separate_qkv: bool = False,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.dim_out = dim_out
        self.dim_mul_in_att = dim_mul_in_att
        self.has_cls_embed = has_cls_embed
        self.norm1 = norm_layer(dim)
        att_dim = dim_out if dim_mul_in_att else dim
        self.attn = MultiScaleAttention(
            dim=dim,
            dim_out=att_dim,
            input_size=input_size,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            drop_rate=drop_rate,
            kernel_q=kernel_q,
            kernel_kv=kernel_kv,
            stride_q=stride_q,
            stride_kv=stride_kv,
            norm_layer=norm_layer,
            has_cls_embed=has_cls_embed,
            mode=mode,
            pool_first=pool_first,
            rel_pos_spatial=rel_pos_spatial,
            rel_pos_temporal=rel_pos_temporal,
            rel_pos_zero_init=rel_pos_zero_init,
            residual_pooling=residual_pooling,
            separate_qkv=separate_qkv,
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(att_dim)
        self.mlp = Mlp(att_dim, int(att_dim * mlp_ratio), dim_out, drop_rate)
        if layer_scale_init_value > 0:
            self.gamma_1 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
            self.gamma_2 = nn.Parameter(layer_scale_init_value * torch.ones(dim_out))
        else:
            self.gamma_1 = self.gamma_2 = None
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)
        kernel_skip = [s + 1 if s > 1 else s for s in stride_q]
        self.pool_skip = (
            nn.MaxPool3d(kernel_skip, stride_q, [k // 2 for k in kernel_skip], ceil_mode=False)
            if len(stride_q) > 0 and math.prod(stride_q) > 1
            else None
        )

    def forward(self, x: torch.Tensor, grid: Grid) -> tuple[torch.Tensor, list[int]]:
        x_norm = self.norm1(x)
        x_block, new_grid = self.attn(x_norm, grid)
        if self.dim_mul_in_att and self.dim != self.dim_out:
            x = self.proj(x_norm)
        x_res, _ = pool_tokens(x, self.pool_skip, grid, self.has_cls_embed)
        if self.gamma_1 is not None:
            x_block = self.gamma_1 * x_block
        x = x_res + self.drop_path(x_block)
        x_norm = self.norm2(x)
        x_mlp = self.mlp(x_norm)
        if not self.dim_mul_in_att and self.dim != self.dim_out:
            x = self.proj(x_norm)
        if self.gamma_2 is not None:
            x_mlp = self.gamma_2 * x_mlp
        return x + self.drop_path(x_mlp), new_grid
