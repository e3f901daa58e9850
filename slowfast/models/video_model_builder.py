"""The video ResNets from blocks: cfg-free builders ``create_resnet`` (C2D, I3D, Slow, with
optional non-local blocks) and ``create_slowfast``, and the registered models ``ResNet``,
``ResNet_nopool`` and ``SlowFast``, whose ``from_cfg`` reads a config
(:mod:`slowfast.models.video_model_cfg`) and calls the builder.

Module names and parameter shapes are PySlowFast's for the same config (``s1.pathway0_stem.conv``,
``s2.pathway0_res0.branch2.a``, ``s1_fuse.conv_f2s``, ``head.projection``, ...), so its ``.pyth``
checkpoints load strictly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.models.build import MODEL_REGISTRY
from slowfast.models.head_helper import ResNetBasicHead
from slowfast.models.norm import NormFactory
from slowfast.models.resnet_helper import STAGE_DEPTH, ResStage, TransFunc
from slowfast.models.stem_helper import VideoModelStem
from slowfast.models.video_model_cfg import resnet_kwargs, slowfast_kwargs
from slowfast.models.video_resnet import FuseFastToSlow, VideoResNet
from slowfast.models.weight_init import init_weights

if TYPE_CHECKING:
    from typing_extensions import Unpack


class ResNetOptions(TypedDict, total=False):
    """Keyword arguments every builder here takes; unset ones default to ``DEFAULT_OPTIONS``
    (PySlowFast's config defaults; the config key each one reads is in brackets)."""

    depth: int  # 18, 50 or 101 [RESNET.DEPTH]
    num_classes: int  # [MODEL.NUM_CLASSES]
    width_per_group: int  # conv1 width; stage widths follow from it [RESNET.WIDTH_PER_GROUP]
    num_groups: int  # groups of the 3x3 convolutions (ResNeXt) [RESNET.NUM_GROUPS]
    trans_func: str | TransFunc  # a TRANS_FUNC_REGISTRY name or entry [RESNET.TRANS_FUNC]
    stride_1x1: bool  # stride on the first 1x1 conv of a bottleneck [RESNET.STRIDE_1X1]
    inplace_relu: bool  # [RESNET.INPLACE_RELU]
    norm: NormFactory  # norm(num_features) -> module, e.g. norm.norm_factory(...) [BN.*]
    nonlocal_instantiation: str  # "softmax" or "dot_product" [NONLOCAL.INSTANTIATION]
    dropout_rate: float  # before the head's projection [MODEL.DROPOUT_RATE]
    head_act: str  # "softmax", "sigmoid" or "none", outside training [MODEL.HEAD_ACT]
    fc_init_std: float  # std of the projection's initial weights [MODEL.FC_INIT_STD]
    zero_init_final_bn: bool  # each residual branch starts at 0 [RESNET.ZERO_INIT_FINAL_BN]


DEFAULT_OPTIONS: ResNetOptions = {
    "depth": 50,
    "num_classes": 400,
    "width_per_group": 64,
    "num_groups": 1,
    "trans_func": "bottleneck_transform",
    "stride_1x1": False,
    "inplace_relu": True,
    "norm": nn.BatchNorm3d,
    "nonlocal_instantiation": "dot_product",
    "dropout_rate": 0.5,
    "head_act": "softmax",
    "fc_init_std": 0.01,
    "zero_init_final_bn": False,
}

# create_slowfast's temporal kernel basis per stage (conv1, res2..res5) and pathway.
SLOWFAST_TEMPORAL_KERNELS = (((1,), (5,)), ((1,), (3,)), ((1,), (3,)), ((3,), (3,)), ((3,), (3,)))


@MODEL_REGISTRY.register()
class ResNet(VideoResNet):
    """Single-pathway video ResNet (:func:`create_resnet`): MODEL.ARCH c2d, i3d, slow (and 2d,
    slow_c2d, slow_i3d).

    Feichtenhofer et al., "SlowFast networks for video recognition", ICCV 2019; Wang et al.,
    "Non-local neural networks", CVPR 2018.
    """

    temporal_pool: ClassVar[bool] = True

    @classmethod
    def from_cfg(cls, cfg: CfgNode) -> ResNet:
        """:func:`create_resnet` with the arguments ``cfg`` gives (RESNET.*, NONLOCAL.*, ...)."""
        kwargs = resnet_kwargs(cfg, temporal_pool=cls.temporal_pool)
        return create_resnet(**kwargs, model_class=cls)


@MODEL_REGISTRY.register()
class ResNet_nopool(ResNet):  # noqa: N801 (PySlowFast's registered name)
    """:class:`ResNet` without the temporal max-pool after res2 (Caffe2 C2D_NOPOOL models)."""

    temporal_pool = False


@MODEL_REGISTRY.register()
class SlowFast(VideoResNet):
    """Two-pathway SlowFast network (:func:`create_slowfast`, MODEL.ARCH slowfast): the Fast
    pathway sees ``alpha`` times the frames with 1/``beta_inv`` of the channels and is fused into
    the Slow pathway after conv1 and res2..res4 (Feichtenhofer et al., ICCV 2019)."""

    @classmethod
    def from_cfg(cls, cfg: CfgNode) -> SlowFast:
        """:func:`create_slowfast` with the arguments ``cfg`` gives (SLOWFAST.*, RESNET.*, ...)."""
        return create_slowfast(**slowfast_kwargs(cfg), model_class=cls)


def create_resnet(
    *,
    input_channels: int = 3,
    temporal_kernels: Sequence[Sequence[int]] = ((1,), (1,), (1,), (3,), (3,)),
    pool1: Sequence[int] = (1, 1, 1),
    spatial_strides: Sequence[int] = (1, 2, 2, 2),
    spatial_dilations: Sequence[int] = (1, 1, 1, 1),
    num_block_temp_kernel: Sequence[int] | None = None,
    nonlocal_location: Sequence[Sequence[int]] = ((), (), (), ()),
    nonlocal_group: Sequence[int] = (1, 1, 1, 1),
    nonlocal_pool: Sequence[Sequence[int]] = ((1, 2, 2),) * 4,
    head_pool_size: Sequence[int] | None = None,
    model_class: type[ResNet] | None = None,
    **options: Unpack[ResNetOptions],
) -> ResNet:
    """A single-pathway video ResNet; the defaults make a Slow R50 (PySlowFast's ``slow`` arch).

    ``temporal_kernels``: per conv1 and res2..res5, the temporal kernel sizes cycled over the
    first ``num_block_temp_kernel[stage]`` blocks of a stage (default: all), 1 after; e.g. I3D is
    ``((5,), (3,), (3, 1), (3, 1), (1, 3))``. Per-stage arguments (res2..res5) have 4 entries.
    ``pool1``: the max pool (kernel = stride) after res2. ``nonlocal_location[stage]``: the blocks
    followed by a non-local block. ``head_pool_size``: the head's average-pool window, None to
    pool adaptively (any input shape). ``model_class``: ResNet or a registered subclass.
    """
    return _assemble(
        model_class or ResNet,
        options,
        input_channels=[input_channels],
        channel_divisors=[1],
        temporal_kernels=[[basis] for basis in temporal_kernels],
        pool1=[pool1],
        spatial_strides=[[stride] for stride in spatial_strides],
        spatial_dilations=[[dilation] for dilation in spatial_dilations],
        num_block_temp_kernel=None
        if num_block_temp_kernel is None
        else [[n] for n in num_block_temp_kernel],
        nonlocal_location=[[blocks] for blocks in nonlocal_location],
        nonlocal_group=[[group] for group in nonlocal_group],
        nonlocal_pool=[[size] for size in nonlocal_pool],
        head_pool_sizes=[head_pool_size],
    )


def create_slowfast(
    *,
    alpha: int = 4,
    beta_inv: int = 8,
    fusion_conv_channel_ratio: int = 2,
    fusion_kernel_size: int = 7,
    input_channels: Sequence[int] = (3, 3),
    temporal_kernels: Sequence[Sequence[Sequence[int]]] = SLOWFAST_TEMPORAL_KERNELS,
    pool1: Sequence[Sequence[int]] = ((1, 1, 1), (1, 1, 1)),
    spatial_strides: Sequence[Sequence[int]] = ((1, 1), (2, 2), (2, 2), (2, 2)),
    spatial_dilations: Sequence[Sequence[int]] = ((1, 1),) * 4,
    num_block_temp_kernel: Sequence[Sequence[int]] | None = None,
    nonlocal_location: Sequence[Sequence[Sequence[int]]] = (((), ()),) * 4,
    nonlocal_group: Sequence[Sequence[int]] = ((1, 1),) * 4,
    nonlocal_pool: Sequence[Sequence[Sequence[int]]] = (((1, 2, 2), (1, 2, 2)),) * 4,
    head_pool_sizes: Sequence[Sequence[int] | None] = (None, None),
    model_class: type[SlowFast] | None = None,
    **options: Unpack[ResNetOptions],
) -> SlowFast:
    """A SlowFast network; the defaults make SlowFast R50 8x8 (32 frames, Slow pathway 8).

    The Fast pathway takes ``alpha`` times the Slow pathway's frames with 1/``beta_inv`` of its
    channels; after conv1 and res2..res4 a ``fusion_kernel_size`` x 1 x 1 conv of stride
    ``alpha`` maps it to ``fusion_conv_channel_ratio`` times its channels, concatenated to the
    Slow pathway. The other arguments are :func:`create_resnet`'s, each entry a per-pathway pair.
    """
    width = options.get("width_per_group", DEFAULT_OPTIONS["width_per_group"])
    if width // beta_inv < 1:
        raise ValueError(f"width_per_group {width} / beta_inv {beta_inv} leaves no Fast channels")
    fusion = partial(
        FuseFastToSlow,
        fusion_conv_channel_ratio=fusion_conv_channel_ratio,
        fusion_kernel=fusion_kernel_size,
        alpha=alpha,
    )
    return _assemble(
        model_class or SlowFast,
        options,
        input_channels=input_channels,
        channel_divisors=[1, beta_inv],
        temporal_kernels=temporal_kernels,
        pool1=pool1,
        spatial_strides=spatial_strides,
        spatial_dilations=spatial_dilations,
        num_block_temp_kernel=num_block_temp_kernel,
        nonlocal_location=nonlocal_location,
        nonlocal_group=nonlocal_group,
        nonlocal_pool=nonlocal_pool,
        head_pool_sizes=head_pool_sizes,
        fusion=fusion,
    )


def _assemble(
    model_class: type[VideoResNet],
    options: ResNetOptions,
    *,
    input_channels: Sequence[int],
    channel_divisors: Sequence[int],
    temporal_kernels: Sequence[Sequence[Sequence[int]]],
    pool1: Sequence[Sequence[int]],
    spatial_strides: Sequence[Sequence[int]],
    spatial_dilations: Sequence[Sequence[int]],
    num_block_temp_kernel: Sequence[Sequence[int]] | None,
    nonlocal_location: Sequence[Sequence[Sequence[int]]],
    nonlocal_group: Sequence[Sequence[int]],
    nonlocal_pool: Sequence[Sequence[Sequence[int]]],
    head_pool_sizes: Sequence[Sequence[int] | None],
    fusion: Callable[..., FuseFastToSlow] | None = None,
) -> VideoResNet:
    """Build the blocks (per-stage arguments per pathway) in PySlowFast's order, then init.

    Stage ``i`` (res2..res5) of pathway ``p`` has output width ``4 * 2**i * widths[p]`` and
    bottleneck width ``2**i * inner[p]``; the Slow pathway's input also carries the channels the
    fusion after the previous stage adds.
    """
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {unknown}")
    opts: dict[str, Any] = {**DEFAULT_OPTIONS, **options}
    if opts["depth"] not in STAGE_DEPTH:
        raise ValueError(f"depth must be one of {sorted(STAGE_DEPTH)}, got {opts['depth']}")
    depths = STAGE_DEPTH[opts["depth"]]
    groups, norm, relu = opts["num_groups"], opts["norm"], opts["inplace_relu"]
    widths = [opts["width_per_group"] // d for d in channel_divisors]
    inner = [groups * opts["width_per_group"] // d for d in channel_divisors]
    paths = range(len(widths))

    stem = VideoModelStem(
        dim_in=list(input_channels),
        dim_out=widths,
        kernel=[[temporal_kernels[0][p][0], 7, 7] for p in paths],
        stride=[[1, 2, 2]] * len(widths),
        padding=[[temporal_kernels[0][p][0] // 2, 3, 3] for p in paths],
        norm=norm,
        inplace_relu=relu,
    )

    def fuse(fast_width: int) -> FuseFastToSlow | None:
        return None if fusion is None else fusion(dim_in=fast_width, norm=norm, inplace_relu=relu)

    fusions = [fuse(widths[-1])]
    stages = []
    for i in range(4):
        dim_in = [w * (1 if i == 0 else 2 * 2**i) for w in widths]
        dim_in[0] += 0 if fusions[-1] is None else fusions[-1].out_channels
        blocks = [depths[i]] * len(widths)
        temporal = blocks if num_block_temp_kernel is None else num_block_temp_kernel[i]
        stage = ResStage(
            dim_in=dim_in,
            dim_out=[w * 4 * 2**i for w in widths],
            dim_inner=[w * 2**i for w in inner],
            temp_kernel_sizes=temporal_kernels[i + 1],
            stride=spatial_strides[i],
            num_blocks=blocks,
            num_groups=[groups] * len(widths),
            num_block_temp_kernel=temporal,
            nonlocal_inds=nonlocal_location[i],
            nonlocal_group=nonlocal_group[i],
            nonlocal_pool=nonlocal_pool[i],
            dilation=spatial_dilations[i],
            instantiation=opts["nonlocal_instantiation"],
            trans_func=opts["trans_func"],
            stride_1x1=opts["stride_1x1"],
            inplace_relu=relu,
            norm=norm,
        )
        stages.append(stage)
        if i < 3:
            fusions.append(fuse(widths[-1] * 4 * 2**i))
    model = model_class(
        stem=stem,
        stages=stages,
        pools=[nn.MaxPool3d(kernel_size=list(pool1[p]), stride=list(pool1[p])) for p in paths],
        head=ResNetBasicHead(
            dim_in=[w * 32 for w in widths],
            num_classes=opts["num_classes"],
            pool_size=head_pool_sizes,
            dropout_rate=opts["dropout_rate"],
            act_func=opts["head_act"],
        ),
        fusions=fusions,
    )
    init_weights(model, opts["fc_init_std"], opts["zero_init_final_bn"])
    return model
