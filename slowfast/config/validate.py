"""The one validation pass over a config: every rule a value must obey, checked together.

:func:`validate_cfg` checks names against the allowed values it is given (``choices``, built from
the registries by the layer that owns them: :mod:`slowfast.engine.config_check`), the rules that
span several keys, and PySlowFast features this project does not implement; it fills in the
values derived from others. The config layer imports no registry, so it stays the lowest layer.
:func:`assert_and_infer_cfg` is PySlowFast's name for the same pass.

Every message names the key, the bad value and what is allowed; a misspelt name also gets the
closest allowed one.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError
from slowfast.config.values import check_values, lookup

# Key -> (value meaning "off", what the feature is). Anything else is a ConfigError.
UNSUPPORTED_SWITCHES: dict[str, tuple[Any, str]] = {
    "DETECTION.ENABLE": (False, "AVA action detection"),
    "AUG.ENABLE": (False, "RandAugment / random-erasing augmentation"),
    "MIXUP.ENABLE": (False, "mixup / cutmix"),
    "MASK.ENABLE": (False, "masked-video pre-training"),
    "DEMO.ENABLE": (False, "the webcam / video demo"),
    "MVIT.REV.ENABLE": (False, "reversible MViT"),
    "MVIT.PATCH_2D": (False, "2-D patch embedding (images)"),
    "MVIT.USE_FIXED_SINCOS_POS": (False, "fixed sine-cosine position embeddings"),
    "TASK": ("", "self-supervised tasks (TASK)"),
    "BN.GLOBAL_SYNC": (False, "global sync-BN (use BN.NUM_SYNC_DEVICES)"),
    "TRAIN.KILL_LOSS_EXPLOSION_FACTOR": (0.0, "loss-explosion kill switch"),
    "TRAIN.CHECKPOINT_IN_INIT": (False, "checkpoint loading inside model init"),
    "TEST.NUM_TEMPORAL_CLIPS": ([], "per-scale temporal clip counts"),
    "MODEL.DETACH_FINAL_FC": (False, "detached final FC"),
    "MODEL.FROZEN_BN": (False, "frozen BN"),
    "MODEL.FP16_ALLREDUCE": (False, "fp16 gradient all-reduce"),
    "RESNET.ZERO_INIT_FINAL_CONV": (False, "zero-initialised final conv"),
    "DATA.PATH_TO_PRELOAD_IMDB": ("", "preloaded frame databases"),
    "DATA.TRAIN_JITTER_SCALES_RELATIVE": ([], "relative-area scale jitter (RandomResizedCrop)"),
    "DATA.TRAIN_JITTER_ASPECT_RELATIVE": ([], "aspect-ratio jitter"),
    "DATA.USE_OFFSET_SAMPLING": (False, "offset sampling"),
    "DATA.TRAIN_JITTER_MOTION_SHIFT": (False, "motion-shift jitter"),
    "DATA.TRAIN_JITTER_FPS": (0.0, "frame-rate jitter"),
    "DATA.TRAIN_CROP_NUM_TEMPORAL": (1, "several temporal crops per training sample"),
    "DATA.TRAIN_CROP_NUM_SPATIAL": (1, "several spatial crops per training sample"),
    "DATA.COLOR_RND_GRAYSCALE": (0.0, "random grayscale"),
    "DATA.LOADER_CHUNK_SIZE": (0, "chunked loading"),
    "DATA.LOADER_CHUNK_OVERALL_SIZE": (0, "chunked loading"),
    "DATA.TIME_DIFF_PROB": (0.0, "time-difference inputs"),
    "DATA.SSL_COLOR_JITTER": (False, "self-supervised colour jitter"),
    "DATA.SSL_MOCOV2_AUG": (False, "MoCo v2 augmentation"),
    "DATA.IN22K_TRAINVAL": (False, "ImageNet-22k"),
    "DATA.DUMMY_LOAD": (False, "dummy loading"),
    "SOLVER.LARS_ON": (False, "LARS"),
    "SOLVER.LAYER_DECAY": (1.0, "layer-wise LR decay"),
    "TENSORBOARD.CONFUSION_MATRIX.ENABLE": (False, "TensorBoard confusion matrices"),
    "TENSORBOARD.HISTOGRAM.ENABLE": (False, "TensorBoard histograms"),
    "TENSORBOARD.MODEL_VIS.ENABLE": (False, "TensorBoard model visualisation"),
    "TENSORBOARD.WRONG_PRED_VIS.ENABLE": (False, "TensorBoard wrong-prediction videos"),
}


@dataclass(frozen=True)
class Choices:
    """The values a config key accepts: ``names`` (a registry's), and optionally a spelling rule
    ``fold`` (a value is accepted when it or ``fold(value)`` is a name) and a ``hint`` appended
    to the error (e.g. how to register one's own)."""

    names: tuple[str, ...]
    fold: Callable[[str], str] | None = None
    hint: str = ""

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is one of the names, directly or after ``fold``."""
        if not isinstance(value, str):
            return False
        return value in self.names or (self.fold is not None and self.fold(value) in self.names)


ChoiceTable = Mapping[str, Choices | Collection[str]]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def check_choice(key: str, value: Any, choices: Choices | Collection[str]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is allowed for ``key``; the message names the
    key, the value, the allowed values and the closest one."""
    if not isinstance(choices, Choices):
        choices = Choices(tuple(sorted(choices)))
    if choices.accepts(value):
        return
    names = sorted(choices.names)
    close = difflib.get_close_matches(str(value), names, n=1, cutoff=0.6)
    if not close and isinstance(value, str) and choices.fold is not None:
        close = difflib.get_close_matches(choices.fold(value), names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    extra = f" {choices.hint}" if choices.hint else ""
    raise ConfigError(f"{key}: unknown value {value!r}; allowed: {', '.join(names)}{hint}{extra}")


def validate_cfg(cfg: CfgNode, choices: ChoiceTable) -> CfgNode:
    """Check ``cfg`` in one pass and fill in the values derived from others, in place.

    ``choices`` maps dotted keys to the names they accept (see :class:`Choices`); keys absent
    from it are not name-checked. Raises :class:`ConfigError` naming the key at fault; returns
    the same cfg (not frozen: freezing is the caller's decision).
    """
    refused = [
        f"{key}: {what} is a PySlowFast feature this project does not implement; "
        f"set it to {off!r} (got {value!r})"
        for key, (off, what) in UNSUPPORTED_SWITCHES.items()
        if not _same(value := lookup(cfg, key), off)
    ]
    if refused:
        more = f" (and {len(refused) - 1} more: {'; '.join(refused[1:])})" if refused[1:] else ""
        raise ConfigError(refused[0] + more)
    _need(
        not cfg.MODEL.ACT_CHECKPOINT or cfg.MODEL.ARCH == "mvit",
        "MODEL.ACT_CHECKPOINT",
        f"activation checkpointing is implemented for MViT (MODEL.ARCH mvit), not for "
        f"MODEL.ARCH {cfg.MODEL.ARCH!r}",
    )
    _need(
        cfg.MODEL.DROPCONNECT_RATE == 0.0 or cfg.MODEL.ARCH == "x3d",
        "MODEL.DROPCONNECT_RATE",
        f"only X3D (MODEL.ARCH x3d) drops connections; got {cfg.MODEL.DROPCONNECT_RATE} for "
        f"MODEL.ARCH {cfg.MODEL.ARCH!r}",
    )
    for key, allowed in choices.items():
        check_choice(key, lookup(cfg, key), allowed)
    check_values(cfg)
    _check_processes(cfg)
    _check_model(cfg)
    _check_data(cfg)
    _check_solver(cfg)
    return cfg


def assert_and_infer_cfg(cfg: CfgNode, choices: ChoiceTable | None = None) -> CfgNode:
    """PySlowFast's name for :func:`validate_cfg`; without ``choices`` no name is checked against
    a registry (``slowfast.engine.config_check.check_cfg`` supplies them)."""
    return validate_cfg(cfg, choices or {})


@contextmanager
def thawed(cfg: CfgNode) -> Iterator[CfgNode]:
    """``with thawed(cfg): ...`` lets the one sanctioned rewrite of a validated, frozen cfg (a
    multigrid phase being applied) write into it; the cfg is frozen again afterwards if it was."""
    was_frozen = cfg.is_frozen()
    cfg.defrost()
    try:
        yield cfg
    finally:
        if was_frozen:
            cfg.freeze()


def _need(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {msg}")


def _check_processes(cfg: CfgNode) -> None:
    _need(
        0 <= cfg.SHARD_ID < cfg.NUM_SHARDS,
        "SHARD_ID",
        f"must be in [0, NUM_SHARDS={cfg.NUM_SHARDS}), got {cfg.SHARD_ID}",
    )
    procs = max(cfg.NUM_GPUS, 1) * cfg.NUM_SHARDS
    for split in ("TRAIN", "TEST"):
        bs = cfg[split].BATCH_SIZE
        _need(isinstance(bs, int) and bs > 0, f"{split}.BATCH_SIZE", f"must be positive, got {bs}")
        _need(
            bs % procs == 0,
            f"{split}.BATCH_SIZE",
            f"{bs} is not divisible by the number of processes "
            f"(max(NUM_GPUS, 1) x NUM_SHARDS = {procs})",
        )
    for split in ("TRAIN", "TEST"):
        _need(
            cfg[split].CHECKPOINT_TYPE in ("pytorch", "caffe2"),
            f"{split}.CHECKPOINT_TYPE",
            f"must be 'pytorch' or 'caffe2', got {cfg[split].CHECKPOINT_TYPE!r}",
        )


def _check_model(cfg: CfgNode) -> None:
    _need(
        cfg.RESNET.WIDTH_PER_GROUP % cfg.RESNET.NUM_GROUPS == 0,
        "RESNET.WIDTH_PER_GROUP",
        f"{cfg.RESNET.WIDTH_PER_GROUP} is not divisible by RESNET.NUM_GROUPS "
        f"({cfg.RESNET.NUM_GROUPS})",
    )
    model = cfg.MODEL
    _need(
        model.ARCH in model.SINGLE_PATHWAY_ARCH or model.ARCH in model.MULTI_PATHWAY_ARCH,
        "MODEL.ARCH",
        f"{model.ARCH!r} is in neither MODEL.SINGLE_PATHWAY_ARCH {list(model.SINGLE_PATHWAY_ARCH)} "
        f"nor MODEL.MULTI_PATHWAY_ARCH {list(model.MULTI_PATHWAY_ARCH)}",
    )
    if cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH:
        _need(
            cfg.SLOWFAST.ALPHA > 0 and cfg.DATA.NUM_FRAMES % cfg.SLOWFAST.ALPHA == 0,
            "SLOWFAST.ALPHA",
            f"{cfg.SLOWFAST.ALPHA} must divide DATA.NUM_FRAMES ({cfg.DATA.NUM_FRAMES})",
        )
    _need(
        cfg.MODEL.HEAD_ACT in ("softmax", "sigmoid", "none"),
        "MODEL.HEAD_ACT",
        f"must be softmax, sigmoid or none, got {cfg.MODEL.HEAD_ACT!r}",
    )


def _check_data(cfg: CfgNode) -> None:
    data = cfg.DATA
    _need(
        len(data.TRAIN_JITTER_SCALES) == 2
        and data.TRAIN_JITTER_SCALES[0] <= data.TRAIN_JITTER_SCALES[1],
        "DATA.TRAIN_JITTER_SCALES",
        f"must be [min, max] with min <= max, got {list(data.TRAIN_JITTER_SCALES)}",
    )
    _need(
        cfg.TEST.NUM_SPATIAL_CROPS in (1, 3),
        "TEST.NUM_SPATIAL_CROPS",
        f"must be 1 or 3, got {cfg.TEST.NUM_SPATIAL_CROPS}",
    )
    _need(
        data.ENSEMBLE_METHOD in ("sum", "max"),
        "DATA.ENSEMBLE_METHOD",
        f"must be 'sum' or 'max', got {data.ENSEMBLE_METHOD!r}",
    )
    if not cfg.TEST.ENSEMBLE_METHOD:
        cfg.TEST.ENSEMBLE_METHOD = data.ENSEMBLE_METHOD
    _need(
        cfg.TEST.ENSEMBLE_METHOD in ("sum", "max"),
        "TEST.ENSEMBLE_METHOD",
        f"must be 'sum' or 'max', got {cfg.TEST.ENSEMBLE_METHOD!r}",
    )


def check_lr_schedule(cfg: CfgNode) -> None:
    """The rules an LR policy needs of the SOLVER keys (also checked by ``lr_policy`` when it is
    called with a cfg that did not pass through :func:`validate_cfg`)."""
    solver = cfg.SOLVER
    steps = list(solver.STEPS)
    if solver.LR_POLICY in ("steps", "steps_with_relative_lrs") and (not steps or steps[0] != 0):
        raise ConfigError(
            f"SOLVER.STEPS must start at 0 for LR policy {solver.LR_POLICY!r}, got {steps}"
        )
    if solver.LR_POLICY != "cosine":
        return
    if solver.COSINE_END_LR > solver.BASE_LR:
        raise ConfigError(
            f"SOLVER.COSINE_END_LR ({solver.COSINE_END_LR}) must not exceed "
            f"SOLVER.BASE_LR ({solver.BASE_LR})"
        )
    offset = solver.WARMUP_EPOCHS if solver.COSINE_AFTER_WARMUP else 0.0
    if solver.MAX_EPOCH - offset <= 0:
        raise ConfigError(
            f"SOLVER.MAX_EPOCH ({solver.MAX_EPOCH}) must exceed the cosine start epoch ({offset})"
        )


def _check_solver(cfg: CfgNode) -> None:
    solver = cfg.SOLVER
    steps = list(solver.STEPS)
    check_lr_schedule(cfg)
    if solver.LR_POLICY == "steps_with_relative_lrs":
        _need(
            len(solver.LRS) >= len(steps),
            "SOLVER.LRS",
            f"needs one entry per SOLVER.STEPS entry ({len(steps)}), got {len(solver.LRS)}",
        )
    _need(
        all(b > a for a, b in zip(steps, steps[1:])),
        "SOLVER.STEPS",
        f"must increase, got {steps}",
    )
    if solver.OPTIMIZING_METHOD == "sgd" and solver.NESTEROV:
        _need(
            solver.MOMENTUM > 0 and solver.DAMPENING == 0,
            "SOLVER.NESTEROV",
            "needs SOLVER.MOMENTUM > 0 and SOLVER.DAMPENING == 0, got "
            f"MOMENTUM={solver.MOMENTUM}, DAMPENING={solver.DAMPENING}",
        )
    if solver.BASE_LR_SCALE_NUM_SHARDS:
        solver.BASE_LR *= cfg.NUM_SHARDS
        solver.WARMUP_START_LR *= cfg.NUM_SHARDS
        solver.COSINE_END_LR *= cfg.NUM_SHARDS
        solver.BASE_LR_SCALE_NUM_SHARDS = False
