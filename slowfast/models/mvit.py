"""MViT, v1 (Fan et al., "Multiscale Vision Transformers", ICCV 2021) and v2 (Li et al., "MViTv2:
Improved Multiscale Vision Transformers for Classification and Detection", CVPR 2022): the
cfg-free builder ``create_mvit`` and the registered model ``MViT`` (``MODEL.MODEL_NAME MViT``,
``MODEL.ARCH mvit``), whose ``from_cfg`` reads the ``MVIT.*`` block.

A strided 3-D convolution cuts the clip into patch tokens; blocks of pooling attention
(:mod:`slowfast.models.attention`) shrink the token grid where ``POOL_Q_STRIDE`` says and widen
the channels where ``DIM_MUL`` says; the class token (or the mean token) feeds a linear head.
v1 adds absolute position embeddings (one table, or separate spatial and temporal ones); v2 uses
decomposed relative positions and residual pooling. Parameter names are PySlowFast's
(``patch_embed.proj``, ``cls_token``, ``pos_embed_spatial``, ``blocks.3.attn.rel_pos_h``,
``head.projection``), so its checkpoints load strictly.

Every shape trains: absolute position embeddings are resampled (trilinear) to the grid the clip
gives, relative tables are resampled per block, and nothing asserts the config's shape, where
PySlowFast's model accepts only the training crop and frame count. :meth:`MViT.input_multiples`
says which frame counts and crops give token grids that every Q-pooling halves exactly; the
multigrid schedule rounds its shapes to them.

The module is longer than the ~350-line rule because ``create_mvit`` takes PySlowFast's whole
MVIT block as arguments and ``mvit_kwargs`` maps each key to one; splitting them apart would
scatter one table over two files.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from fvcore.common.config import CfgNode
from torch.utils.checkpoint import checkpoint

from slowfast.config.errors import ConfigError
from slowfast.models.attention import MultiScaleBlock
from slowfast.models.build import MODEL_REGISTRY
from slowfast.models.head_helper import head_activation
from slowfast.models.x3d import round_width


class PatchEmbed(nn.Module):
    """A strided 3-D convolution (``proj``) turning ``N x C x T x H x W`` into ``N x L x D``
    tokens, with the token grid ``(T', H', W')``."""

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        kernel: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int],
    ) -> None:
        super().__init__()
        self.proj = nn.Conv3d(dim_in, dim_out, list(kernel), list(stride), list(padding))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2), list(x.shape[2:])


class TransformerHead(nn.Module):
    """Dropout and a linear classifier over a pooled token; the activation outside training."""

    def __init__(
        self, dim_in: int, num_classes: int, dropout_rate: float = 0.0, act_func: str = "softmax"
    ) -> None:
        super().__init__()
        if dropout_rate > 0.0:
            self.dropout = nn.Dropout(dropout_rate)
        self.projection = nn.Linear(dim_in, num_classes, bias=True)
        self.act = head_activation(act_func, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "dropout"):
            x = self.dropout(x)
        x = self.projection(x)
        if not self.training and self.act is not None:
            x = self.act(x)
        return x.reshape(x.shape[0], -1)


def _per_block(depth: int, entries: Sequence[Sequence[float]], what: str) -> list[list[int]]:
    """``[block, t, h, w]`` entries as one (possibly empty) list per block."""
    out: list[list[int]] = [[] for _ in range(depth)]
    for entry in entries:
        if not 0 <= int(entry[0]) < depth:
            raise ValueError(f"{what}: block {entry[0]} is outside 0..{depth - 1}")
        out[int(entry[0])] = [int(v) for v in entry[1:]]
    return out


def block_pooling(
    depth: int,
    pool_q_stride: Sequence[Sequence[int]],
    pool_kv_stride: Sequence[Sequence[int]] = (),
    pool_kv_stride_adaptive: Sequence[int] | None = None,
    pool_kvq_kernel: Sequence[int] | None = None,
) -> tuple[list[list[int]], list[list[int]], list[list[int]], list[list[int]]]:
    """Each block's (Q kernel, K/V kernel, Q stride, K/V stride), PySlowFast's rules: an adaptive
    K/V stride starts at ``pool_kv_stride_adaptive`` and is divided by every Q stride on the way;
    a kernel is ``pool_kvq_kernel`` or stride + 1 where the stride is above 1."""
    stride_q = _per_block(depth, pool_q_stride, "MVIT.POOL_Q_STRIDE")
    if pool_kv_stride_adaptive is not None:
        current = list(pool_kv_stride_adaptive)
        pool_kv_stride = []
        for i in range(depth):
            if stride_q[i]:
                current = [max(c // s, 1) for c, s in zip(current, stride_q[i])]
            pool_kv_stride.append([i, *current])
    stride_kv = _per_block(depth, pool_kv_stride, "MVIT.POOL_KV_STRIDE")

    def kernel(stride: list[int]) -> list[int]:
        if not stride:
            return []
        if pool_kvq_kernel is not None:
            return list(pool_kvq_kernel)
        return [s + 1 if s > 1 else s for s in stride]

    return (
        [kernel(s) for s in stride_q],
        [kernel(s) for s in stride_kv],
        stride_q,
        stride_kv,
    )


@MODEL_REGISTRY.register()
class MViT(nn.Module):
    """MViT v1 / v2 (:func:`create_mvit`). ``forward`` takes a one-element list holding an
    ``N x C x T x H x W`` clip of any size the patch embedding accepts."""

    def __init__(
        self,
        *,
        patch_embed: PatchEmbed,
        blocks: Sequence[MultiScaleBlock],
        norm: nn.Module,
        head: nn.Module,
        embed_dim: int,
        patch_dims: Sequence[int],
        cls_embed_on: bool = True,
        use_abs_pos: bool = True,
        sep_pos_embed: bool = False,
        use_mean_pooling: bool = False,
        norm_stem: nn.Module | None = None,
        drop_rate: float = 0.0,
        zero_decay_pos_cls: bool = True,
        act_checkpoint: bool = False,
    ) -> None:
        super().__init__()
        self.patch_dims = list(patch_dims)
        self.zero_decay_pos_cls = zero_decay_pos_cls
        self.act_checkpoint = act_checkpoint
        self.cls_embed_on = cls_embed_on
        self.use_abs_pos = use_abs_pos
        self.sep_pos_embed = sep_pos_embed
        self.use_mean_pooling = use_mean_pooling
        self.drop_rate = drop_rate
        self.patch_embed = patch_embed
        t, h, w = self.patch_dims
        if cls_embed_on:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        if use_abs_pos:
            if sep_pos_embed:
                self.pos_embed_spatial = nn.Parameter(torch.zeros(1, h * w, embed_dim))
                self.pos_embed_temporal = nn.Parameter(torch.zeros(1, t, embed_dim))
                if cls_embed_on:
                    self.pos_embed_class = nn.Parameter(torch.zeros(1, 1, embed_dim))
            else:
                tokens = t * h * w + (1 if cls_embed_on else 0)
                self.pos_embed = nn.Parameter(torch.zeros(1, tokens, embed_dim))
        if drop_rate > 0.0:
            self.pos_drop = nn.Dropout(p=drop_rate)
        self.norm_stem = norm_stem
        self.blocks = nn.ModuleList(blocks)
        self.norm = norm
        self.head = head

    @classmethod
    def from_cfg(cls, cfg: CfgNode) -> MViT:
        """:func:`create_mvit` with the arguments ``cfg`` gives (MVIT.*, DATA.*, MODEL.*)."""
        return create_mvit(**mvit_kwargs(cfg), model_class=cls)

    @staticmethod
    def input_multiples(cfg: CfgNode) -> tuple[int, int]:
        """(frames, crop) multiples whose token grid every Q pooling divides exactly: the patch
        stride times the product of the Q strides, per axis."""
        stride = list(cfg.MVIT.PATCH_STRIDE)
        frames, crop = stride[0], stride[1]
        for entry in cfg.MVIT.POOL_Q_STRIDE:
            frames *= int(entry[1])
            crop *= int(entry[2])
        return frames, crop

    def no_weight_decay(self) -> list[str]:
        """Names of the position tables and the class token, kept from weight decay when
        ``zero_decay_pos_cls`` (MVIT.ZERO_DECAY_POS_CLS); none otherwise."""
        names: list[str] = []
        if not self.zero_decay_pos_cls:
            return names
        if self.use_abs_pos:
            if self.sep_pos_embed:
                names += ["pos_embed_spatial", "pos_embed_temporal", "pos_embed_class"]
            else:
                names.append("pos_embed")
        names += ["rel_pos_h", "rel_pos_w", "rel_pos_hw", "rel_pos_t"]
        if self.cls_embed_on:
            names.append("cls_token")
        return names

    def _abs_pos(self, grid: Sequence[int]) -> torch.Tensor:
        """The absolute position embedding at ``grid``, resampled from the built one."""
        t, h, w = self.patch_dims
        if self.sep_pos_embed:
            table = self.pos_embed_spatial.repeat(1, t, 1) + torch.repeat_interleave(
                self.pos_embed_temporal, h * w, dim=1
            )
            cls_pos = self.pos_embed_class if self.cls_embed_on else None
        else:
            table = self.pos_embed
            cls_pos = table[:, :1] if self.cls_embed_on else None
            if self.cls_embed_on:
                table = table[:, 1:]
        if tuple(grid) != (t, h, w):
            volume = table.reshape(1, t, h, w, -1).permute(0, 4, 1, 2, 3)
            volume = F.interpolate(volume, size=tuple(grid), mode="trilinear")
            table = volume.reshape(1, volume.shape[1], -1).transpose(1, 2)
        return table if cls_pos is None else torch.cat((cls_pos, table), dim=1)

    def forward(self, x: list[torch.Tensor], *unused: Any) -> torch.Tensor:
        if len(x) != 1:
            raise ValueError(f"MViT takes one pathway, got {len(x)} tensors")
        x, grid = self.patch_embed(x[0])
        if self.cls_embed_on:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        if self.use_abs_pos:
            x = x + self._abs_pos(grid)
        if self.drop_rate > 0.0:
            x = self.pos_drop(x)
        if self.norm_stem is not None:
            x = self.norm_stem(x)
        remat = self.act_checkpoint and self.training and torch.is_grad_enabled()
        for block in self.blocks:
            if remat:  # keep only each block's input; recompute its inside in backward
                x, grid = checkpoint(block, x, grid, use_reentrant=False)
            else:
                x, grid = block(x, grid)
        if self.use_mean_pooling:
            x = x[:, 1:] if self.cls_embed_on else x
            x = self.norm(x.mean(1))
        elif self.cls_embed_on:
            x = self.norm(x)[:, 0]
        else:
            x = self.norm(x).mean(1)
        return self.head(x)


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, (nn.Linear, nn.Conv2d, nn.Conv3d)):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.constant_(m.bias, 0.02)
    elif isinstance(m, nn.LayerNorm):
        nn.init.constant_(m.bias, 0.02)
        nn.init.constant_(m.weight, 1.0)


def create_mvit(
    *,
    input_channels: int = 3,
    num_classes: int = 400,
    num_frames: int = 16,
    crop_size: int = 224,
    embed_dim: int = 96,
    num_heads: int = 1,
    depth: int = 16,
    mlp_ratio: float = 4.0,
    qkv_bias: bool = True,
    patch_kernel: Sequence[int] = (3, 7, 7),
    patch_stride: Sequence[int] = (2, 4, 4),
    patch_padding: Sequence[int] = (1, 3, 3),
    dim_mul: Sequence[Sequence[float]] = (),
    head_mul: Sequence[Sequence[float]] = (),
    pool_q_stride: Sequence[Sequence[int]] = (),
    pool_kv_stride: Sequence[Sequence[int]] = (),
    pool_kv_stride_adaptive: Sequence[int] | None = None,
    pool_kvq_kernel: Sequence[int] | None = None,
    mode: str = "conv",
    pool_first: bool = False,
    cls_embed_on: bool = True,
    use_abs_pos: bool = True,
    sep_pos_embed: bool = False,
    rel_pos_spatial: bool = False,
    rel_pos_temporal: bool = False,
    rel_pos_zero_init: bool = False,
    residual_pooling: bool = False,
    dim_mul_in_att: bool = False,
    separate_qkv: bool = False,
    use_mean_pooling: bool = False,
    norm_stem: bool = False,
    layer_scale_init_value: float = 0.0,
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.1,
    dropout_rate: float = 0.5,
    head_act: str = "softmax",
    head_init_scale: float = 1.0,
    zero_decay_pos_cls: bool = True,
    act_checkpoint: bool = False,
    model_class: type[MViT] = MViT,
) -> MViT:
    """An MViT for ``num_frames x crop_size^2`` clips (the size the position tables are built
    for; other sizes are resampled to). MViTv2-S: ``depth=16``, ``dim_mul`` / ``head_mul`` at
    blocks 1, 3, 14, Q pooled 2x spatially there (kernel 3x3x3 everywhere), K/V adaptive from
    ``[1, 8, 8]``, ``use_abs_pos=False``, relative positions, residual pooling,
    ``dim_mul_in_att=True``; v1-B: separate absolute embeddings instead. Stochastic depth grows
    linearly from 0 to ``drop_path_rate`` over the blocks. ``act_checkpoint`` recomputes each
    block's activations in the backward pass (``torch.utils.checkpoint``: less memory, one more
    forward)."""
    norm_layer = partial(nn.LayerNorm, eps=1e-6)
    patch_embed = PatchEmbed(input_channels, embed_dim, patch_kernel, patch_stride, patch_padding)
    grid = [
        num_frames // patch_stride[0],
        crop_size // patch_stride[1],
        crop_size // patch_stride[2],
    ]
    if min(grid) < 1:
        raise ValueError(f"a {num_frames} x {crop_size}^2 clip leaves no patch tokens")
    patch_dims = list(grid)
    dim_factors = [1.0] * (depth + 1)
    head_factors = [1.0] * (depth + 1)
    for block, factor in dim_mul:
        dim_factors[int(block)] = factor
    for block, factor in head_mul:
        head_factors[int(block)] = factor
    kernel_q, kernel_kv, stride_q, stride_kv = block_pooling(
        depth, pool_q_stride, pool_kv_stride, pool_kv_stride_adaptive, pool_kvq_kernel
    )
    rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
    blocks = []
    for i in range(depth):
        num_heads = round_width(num_heads, head_factors[i])
        if dim_mul_in_att:
            dim_out = round_width(
                embed_dim, dim_factors[i], divisor=round_width(num_heads, head_factors[i])
            )
        else:
            dim_out = round_width(
                embed_dim, dim_factors[i + 1], divisor=round_width(num_heads, head_factors[i + 1])
            )
        blocks.append(
            MultiScaleBlock(
                dim=embed_dim,
                dim_out=dim_out,
                num_heads=num_heads,
                input_size=grid,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop_rate=drop_rate,
                drop_path=rates[i],
                layer_scale_init_value=layer_scale_init_value,
                norm_layer=norm_layer,
                kernel_q=kernel_q[i],
                kernel_kv=kernel_kv[i],
                stride_q=stride_q[i],
                stride_kv=stride_kv[i],
                mode=mode,
                has_cls_embed=cls_embed_on,
                pool_first=pool_first,
                rel_pos_spatial=rel_pos_spatial,
                rel_pos_temporal=rel_pos_temporal,
                rel_pos_zero_init=rel_pos_zero_init,
                residual_pooling=residual_pooling,
                dim_mul_in_att=dim_mul_in_att,
                separate_qkv=separate_qkv,
            )
        )
        if stride_q[i]:
            grid = [size // s for size, s in zip(grid, stride_q[i])]
        embed_dim = dim_out
    model = model_class(
        patch_embed=patch_embed,
        blocks=blocks,
        norm=norm_layer(embed_dim),
        head=TransformerHead(embed_dim, num_classes, dropout_rate, head_act),
        embed_dim=patch_embed.proj.out_channels,
        patch_dims=patch_dims,
        cls_embed_on=cls_embed_on,
        use_abs_pos=use_abs_pos,
        sep_pos_embed=sep_pos_embed,
        use_mean_pooling=use_mean_pooling,
        norm_stem=norm_layer(patch_embed.proj.out_channels) if norm_stem else None,
        drop_rate=drop_rate,
        zero_decay_pos_cls=zero_decay_pos_cls,
        act_checkpoint=act_checkpoint,
    )
    for name, param in model.named_parameters(recurse=False):
        if name.startswith(("pos_embed", "cls_token")):
            nn.init.trunc_normal_(param, std=0.02)
    model.apply(_init_weights)
    model.head.projection.weight.data.mul_(head_init_scale)
    model.head.projection.bias.data.mul_(head_init_scale)
    return model


# PySlowFast MViT options this project does not build: key -> value meaning "off".
UNSUPPORTED = {
    "MVIT.REV.ENABLE": False,
    "MVIT.PATCH_2D": False,
    "MVIT.USE_FIXED_SINCOS_POS": False,
}


def mvit_kwargs(cfg: CfgNode) -> dict[str, Any]:
    """``create_mvit``'s arguments for ``cfg`` (MVIT.*, DATA.NUM_FRAMES / TRAIN_CROP_SIZE for the
    built grid, MODEL.*)."""
    if cfg.MODEL.ARCH != "mvit":
        raise ConfigError(f"MODEL.ARCH: MViT needs 'mvit', got {cfg.MODEL.ARCH!r}")
    m = cfg.MVIT
    for key, off in UNSUPPORTED.items():
        node: Any = cfg
        for part in key.split("."):
            node = node[part]
        if node != off:
            raise ConfigError(f"{key}: {node!r} is not supported (only {off!r})")
    if m.NORM != "layernorm":
        raise ConfigError(f"MVIT.NORM: only 'layernorm' is supported, got {m.NORM!r}")
    if len(cfg.DATA.INPUT_CHANNEL_NUM) != 1:
        raise ConfigError(
            f"DATA.INPUT_CHANNEL_NUM: MViT has one pathway, got {list(cfg.DATA.INPUT_CHANNEL_NUM)}"
        )
    for key in ("PATCH_KERNEL", "PATCH_STRIDE", "PATCH_PADDING"):
        if len(m[key]) != 3:
            raise ConfigError(f"MVIT.{key}: needs (T, H, W), got {m[key]}")
    return {
        "input_channels": cfg.DATA.INPUT_CHANNEL_NUM[0],
        "num_classes": cfg.MODEL.NUM_CLASSES,
        "num_frames": cfg.DATA.NUM_FRAMES,
        "crop_size": cfg.DATA.TRAIN_CROP_SIZE,
        "embed_dim": m.EMBED_DIM,
        "num_heads": m.NUM_HEADS,
        "depth": m.DEPTH,
        "mlp_ratio": m.MLP_RATIO,
        "qkv_bias": m.QKV_BIAS,
        "patch_kernel": list(m.PATCH_KERNEL),
        "patch_stride": list(m.PATCH_STRIDE),
        "patch_padding": list(m.PATCH_PADDING),
        "dim_mul": [list(e) for e in m.DIM_MUL],
        "head_mul": [list(e) for e in m.HEAD_MUL],
        "pool_q_stride": [list(e) for e in m.POOL_Q_STRIDE],
        "pool_kv_stride": [list(e) for e in m.POOL_KV_STRIDE],
        "pool_kv_stride_adaptive": m.POOL_KV_STRIDE_ADAPTIVE,
        "pool_kvq_kernel": m.POOL_KVQ_KERNEL,
        "mode": m.MODE,
        "pool_first": m.POOL_FIRST,
        "cls_embed_on": m.CLS_EMBED_ON,
        "use_abs_pos": m.USE_ABS_POS,
        "sep_pos_embed": m.SEP_POS_EMBED,
        "rel_pos_spatial": m.REL_POS_SPATIAL,
        "rel_pos_temporal": m.REL_POS_TEMPORAL,
        "rel_pos_zero_init": m.REL_POS_ZERO_INIT,
        "residual_pooling": m.RESIDUAL_POOLING,
        "dim_mul_in_att": m.DIM_MUL_IN_ATT,
        "separate_qkv": m.SEPARATE_QKV,
        "use_mean_pooling": m.USE_MEAN_POOLING,
        "norm_stem": m.NORM_STEM,
        "layer_scale_init_value": m.LAYER_SCALE_INIT_VALUE,
        "drop_rate": m.DROPOUT_RATE,
        "drop_path_rate": m.DROPPATH_RATE,
        "dropout_rate": cfg.MODEL.DROPOUT_RATE,
        "head_act": cfg.MODEL.HEAD_ACT,
        "head_init_scale": m.HEAD_INIT_SCALE,
        "zero_decay_pos_cls": m.ZERO_DECAY_POS_CLS,
        "act_checkpoint": cfg.MODEL.ACT_CHECKPOINT,
    }
