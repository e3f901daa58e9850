"""The edge check of a config: the allowed names come from the registries, then the cfg freezes.

:func:`allowed_choices` assembles the table "config key -> allowed names" from the registries of
every extension point, so error messages list exactly what can be built;
:func:`check_cfg` runs :func:`slowfast.config.validate_cfg` with it and freezes the cfg. Entry
points (``tools/run_net.py`` through :mod:`slowfast.engine.cli`, the launcher) call it once; from
then on only a multigrid phase rewrites the cfg (inside :func:`slowfast.config.thawed`).
"""

from __future__ import annotations

from fvcore.common.config import CfgNode

from slowfast.config.validate import Choices, validate_cfg
from slowfast.config.values import warn_suspicious
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.decoder import DECODER_REGISTRY
from slowfast.engine.losses import LOSS_REGISTRY
from slowfast.models.build import EXTRA_MODULES_ENV, MODEL_REGISTRY, import_extra_modules
from slowfast.models.norm import NORM_REGISTRY
from slowfast.models.resnet_helper import TRANS_FUNC_REGISTRY
from slowfast.multigrid.builder import build_schedule
from slowfast.utils.lr_policy import LR_POLICY_REGISTRY
from slowfast.utils.optimizer import OPTIMIZER_REGISTRY

__all__ = ["allowed_choices", "check_cfg"]


def allowed_choices() -> dict[str, Choices]:
    """``config key -> Choices`` read from the registries now (after importing the user's
    modules listed in ``SLOWFAST_EXTRA_MODULES``, which may register models and others)."""
    import_extra_modules()
    datasets = Choices(tuple(DATASET_REGISTRY.names()), fold=str.capitalize)
    return {
        "TRAIN.DATASET": datasets,
        "TEST.DATASET": datasets,
        "MODEL.MODEL_NAME": Choices(
            tuple(MODEL_REGISTRY.names()),
            hint=f"(a model in your own file must be imported first: list it in "
            f"${EXTRA_MODULES_ENV})",
        ),
        "MODEL.LOSS_FUNC": Choices(tuple(LOSS_REGISTRY.names())),
        "SOLVER.LR_POLICY": Choices(tuple(LR_POLICY_REGISTRY.names())),
        "SOLVER.OPTIMIZING_METHOD": Choices(tuple(OPTIMIZER_REGISTRY.names())),
        "DATA.DECODING_BACKEND": Choices(tuple(DECODER_REGISTRY.names())),
        "BN.NORM_TYPE": Choices(tuple(NORM_REGISTRY.names())),
        "RESNET.TRANS_FUNC": Choices(tuple(TRANS_FUNC_REGISTRY.names())),
    }


def check_cfg(cfg: CfgNode, freeze: bool = True, warn: bool = True) -> CfgNode:
    """Validate ``cfg`` in one pass against :func:`allowed_choices` and (by default) freeze it;
    returns the same cfg. Raises :class:`~slowfast.config.ConfigError` naming the key at fault.

    A multigrid config also has its schedule built once, so that what the schedule cannot
    honour stops here too (``--dry-run`` included). With ``warn``, each legal but suspicious
    value is logged as one warning line (:func:`slowfast.config.values.suspicious`).
    """
    validate_cfg(cfg, allowed_choices())
    if cfg.MULTIGRID.LONG_CYCLE or cfg.MULTIGRID.SHORT_CYCLE:
        build_schedule(cfg)
    if warn:
        warn_suspicious(cfg)
    if freeze:
        cfg.freeze()
    return cfg
