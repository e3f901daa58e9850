"""Value rules: the numbers, ranges and list shapes a run can use, checked at the edge so that a
bad value stops the run before anything is built, naming the key, the value and what is allowed.

:func:`check_values` raises :class:`ConfigError` for a value no run can use (a crop of 0, zero
classes, momentum 2, a negative worker count, an empty long cycle, ...). :func:`suspicious`
lists values that are legal but probably not meant (a warm-up longer than training, a zero
learning rate); :func:`warn_suspicious` logs each as one warning line.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError

logger = logging.getLogger(__name__)

# (test, what is allowed), by kind of rule.
Rule = tuple[Callable[[Any], bool], str]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


POSITIVE_INT: Rule = (lambda v: _int(v) and v > 0, "a positive integer")
NON_NEGATIVE_INT: Rule = (lambda v: _int(v) and v >= 0, "an integer >= 0")
POSITIVE: Rule = (lambda v: _number(v) and v > 0, "a number > 0")
NON_NEGATIVE: Rule = (lambda v: _number(v) and v >= 0, "a number >= 0")
FRACTION: Rule = (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)")
CLOSED_FRACTION: Rule = (lambda v: _number(v) and 0 <= v <= 1, "a number in [0, 1]")
RATIO: Rule = (lambda v: _number(v) and 0 < v <= 1, "a number in (0, 1]")
SEED: Rule = (lambda v: _int(v) and 0 <= v < 2**32, "an integer in [0, 2**32)")

# Keys a run reads as numbers, and what each accepts (checked on every config).
VALUE_RULES: dict[str, Rule] = {
    "NUM_GPUS": NON_NEGATIVE_INT,
    "NUM_SHARDS": POSITIVE_INT,
    "RNG_SEED": SEED,
    "LOG_PERIOD": POSITIVE_INT,
    "DATA_LOADER.NUM_WORKERS": NON_NEGATIVE_INT,
    "MODEL.NUM_CLASSES": POSITIVE_INT,
    "MODEL.DROPOUT_RATE": FRACTION,
    "MODEL.DROPCONNECT_RATE": FRACTION,
    "X3D.WIDTH_FACTOR": POSITIVE,
    "X3D.DEPTH_FACTOR": POSITIVE,
    "X3D.BOTTLENECK_FACTOR": POSITIVE,
    "X3D.DIM_C1": POSITIVE_INT,
    "X3D.DIM_C5": POSITIVE_INT,
    "MVIT.EMBED_DIM": POSITIVE_INT,
    "MVIT.NUM_HEADS": POSITIVE_INT,
    "MVIT.DEPTH": POSITIVE_INT,
    "MVIT.MLP_RATIO": POSITIVE,
    "MVIT.DROPPATH_RATE": FRACTION,
    "MVIT.DROPOUT_RATE": FRACTION,
    "MODEL.FC_INIT_STD": NON_NEGATIVE,
    "DATA.TRAIN_CROP_SIZE": POSITIVE_INT,
    "DATA.TEST_CROP_SIZE": POSITIVE_INT,
    "DATA.NUM_FRAMES": POSITIVE_INT,
    "DATA.SAMPLING_RATE": POSITIVE_INT,
    "DATA.CLIPS_PER_DECODE": POSITIVE_INT,
    "DATA.TARGET_FPS": POSITIVE,
    "DATA.DECODING_SHORT_SIZE": POSITIVE_INT,
    "DATA.DECODED_CACHE_MB": NON_NEGATIVE_INT,
    "DATA.MAX_LOAD_RETRIES": NON_NEGATIVE_INT,
    "DATA.SKIP_ROWS": NON_NEGATIVE_INT,
    "DATA.IN_VAL_CROP_RATIO": RATIO,
    "TRAIN.EVAL_PERIOD": POSITIVE_INT,
    "TRAIN.CHECKPOINT_PERIOD": POSITIVE_INT,
    "TEST.NUM_ENSEMBLE_VIEWS": POSITIVE_INT,
    "RESNET.NUM_GROUPS": POSITIVE_INT,
    "RESNET.WIDTH_PER_GROUP": POSITIVE_INT,
    "BN.NUM_SPLITS": POSITIVE_INT,
    "BN.NUM_SYNC_DEVICES": POSITIVE_INT,
    "BN.NUM_BATCHES_PRECISE": NON_NEGATIVE_INT,
    "BN.EPSILON": POSITIVE,
    "BN.MOMENTUM": CLOSED_FRACTION,
    "BN.WEIGHT_DECAY": NON_NEGATIVE,
    "SLOWFAST.ALPHA": POSITIVE_INT,
    "SLOWFAST.BETA_INV": POSITIVE_INT,
    "SLOWFAST.FUSION_CONV_CHANNEL_RATIO": POSITIVE_INT,
    "SLOWFAST.FUSION_KERNEL_SZ": POSITIVE_INT,
    "SOLVER.BASE_LR": NON_NEGATIVE,
    "SOLVER.MAX_EPOCH": POSITIVE_INT,
    "SOLVER.MOMENTUM": FRACTION,
    "SOLVER.DAMPENING": CLOSED_FRACTION,
    "SOLVER.WEIGHT_DECAY": NON_NEGATIVE,
    "SOLVER.GAMMA": POSITIVE,
    "SOLVER.WARMUP_EPOCHS": NON_NEGATIVE,
    "SOLVER.WARMUP_START_LR": NON_NEGATIVE,
    "SOLVER.COSINE_END_LR": NON_NEGATIVE,
    "MULTIGRID.EPOCH_FACTOR": POSITIVE,
    "MULTIGRID.BN_BASE_SIZE": POSITIVE_INT,
    "MULTIGRID.EVAL_FREQ": POSITIVE_INT,
    "MULTIGRID.LONG_CYCLE_SAMPLING_RATE": NON_NEGATIVE_INT,
    "MULTIGRID.DEFAULT_B": NON_NEGATIVE_INT,
    "MULTIGRID.DEFAULT_T": NON_NEGATIVE_INT,
    "MULTIGRID.DEFAULT_S": NON_NEGATIVE_INT,
}


def lookup(cfg: CfgNode, dotted: str) -> Any:
    """The value of ``dotted`` (``"SOLVER.BASE_LR"``) in ``cfg``."""
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def _fail(key: str, value: Any, allowed: str) -> None:
    shown = list(value) if isinstance(value, tuple) else value
    raise ConfigError(f"{key}: got {shown!r}; must be {allowed}")


def _check_lists(cfg: CfgNode) -> None:
    data = cfg.DATA
    channels = list(data.INPUT_CHANNEL_NUM)
    # How many entries a model needs is the model's rule (its builder checks it).
    if not channels or not all(_int(c) and c > 0 for c in channels):
        _fail("DATA.INPUT_CHANNEL_NUM", channels, "positive channel counts, one per pathway")
    for key in ("DATA.MEAN", "DATA.STD"):
        values = list(lookup(cfg, key))
        if len(values) != channels[0] or not all(_number(v) for v in values):
            _fail(key, values, f"{channels[0]} numbers, one per input channel")
    if not all(v > 0 for v in data.STD):
        _fail("DATA.STD", data.STD, "positive numbers (the input is divided by them)")
    scales = list(data.TRAIN_JITTER_SCALES)
    if len(scales) == 2 and not all(_int(s) and s > 0 for s in scales):
        _fail("DATA.TRAIN_JITTER_SCALES", scales, "[min, max], positive short-side sizes")
    mg = cfg.MULTIGRID
    if mg.LONG_CYCLE:
        factors = [list(f) if isinstance(f, (list, tuple)) else f for f in mg.LONG_CYCLE_FACTORS]
        good = bool(factors) and all(
            isinstance(f, list) and len(f) == 2 and all(_number(x) and 0 < x <= 1 for x in f)
            for f in factors
        )
        if not good:
            _fail(
                "MULTIGRID.LONG_CYCLE_FACTORS",
                factors,
                "a non-empty list of (frames, crop) factor pairs, each in (0, 1], "
                "for MULTIGRID.LONG_CYCLE True",
            )
    if mg.SHORT_CYCLE:
        factors = list(mg.SHORT_CYCLE_FACTORS)
        if not factors or not all(_number(f) and 0 < f <= 1 for f in factors):
            _fail(
                "MULTIGRID.SHORT_CYCLE_FACTORS",
                factors,
                "crop factors in (0, 1], smallest first (PySlowFast's: two), "
                "for MULTIGRID.SHORT_CYCLE True",
            )


def check_values(cfg: CfgNode) -> None:
    """Raise :class:`ConfigError` for the first value a run cannot use (see the module)."""
    for key, (test, allowed) in VALUE_RULES.items():
        value = lookup(cfg, key)
        if not test(value):
            _fail(key, value, allowed)
    _check_lists(cfg)


def suspicious(cfg: CfgNode) -> list[str]:
    """One message per legal value that is probably not meant, each naming its key."""
    solver, mg = cfg.SOLVER, cfg.MULTIGRID
    out = []
    if solver.WARMUP_EPOCHS > solver.MAX_EPOCH:
        out.append(
            f"SOLVER.WARMUP_EPOCHS ({solver.WARMUP_EPOCHS}) is longer than training "
            f"(SOLVER.MAX_EPOCH {solver.MAX_EPOCH}): the LR never reaches SOLVER.BASE_LR"
        )
    if solver.BASE_LR == 0 and cfg.TRAIN.ENABLE:
        out.append("SOLVER.BASE_LR is 0: training will not change the weights")
    if mg.SHORT_CYCLE and len(mg.SHORT_CYCLE_FACTORS) != 2:
        out.append(
            f"MULTIGRID.SHORT_CYCLE_FACTORS has {len(mg.SHORT_CYCLE_FACTORS)} factors: a "
            f"{len(mg.SHORT_CYCLE_FACTORS) + 1}-iteration short cycle (the paper's and "
            "PySlowFast's has two factors, and PySlowFast reads only the first two)"
        )
    if mg.SHORT_CYCLE and list(mg.SHORT_CYCLE_FACTORS) != sorted(mg.SHORT_CYCLE_FACTORS):
        out.append(
            f"MULTIGRID.SHORT_CYCLE_FACTORS {list(mg.SHORT_CYCLE_FACTORS)} are not smallest "
            "first, as the short cycle goes from the coarsest crop to the full one"
        )
    if cfg.TRAIN.ENABLE and cfg.TRAIN.EVAL_PERIOD > solver.MAX_EPOCH and not mg.LONG_CYCLE:
        out.append(
            f"TRAIN.EVAL_PERIOD ({cfg.TRAIN.EVAL_PERIOD}) exceeds SOLVER.MAX_EPOCH "
            f"({solver.MAX_EPOCH}): validation runs after the last epoch only"
        )
    return out


def warn_suspicious(cfg: CfgNode) -> list[str]:
    """Log each of :func:`suspicious` as one warning line; returns them."""
    found = suspicious(cfg)
    for message in found:
        logger.warning("config: %s", message)
    return found
