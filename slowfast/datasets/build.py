"""The dataset registry and ``build_dataset``, the edge where a dataset meets the config.

Contract for a registered dataset: ``@DATASET_REGISTRY.register()`` on a
``torch.utils.data.Dataset`` class with a classmethod ``from_cfg(cfg, split)`` (split one of
"train", "val", "test") that reads the config and builds it from explicit arguments (see
:class:`~slowfast.datasets.video_dataset.VideoDataset`); a class without ``from_cfg`` is
constructed as ``cls(cfg, split)``, as PySlowFast's datasets are. The registered name is the class
name; configs select it with ``TRAIN.DATASET`` / ``TEST.DATASET``: the exact registered name
first, then PySlowFast's rule (the name capitalised: "kinetics" -> "Kinetics", "ssv2" -> "Ssv2").
"""

from __future__ import annotations

from fvcore.common.config import CfgNode
from torch.utils.data import Dataset

from slowfast.config.errors import ConfigError
from slowfast.utils.registry import Registry

DATASET_REGISTRY = Registry("DATASET")
DATASET_REGISTRY.__doc__ = __doc__


def build_dataset(name: str, cfg: CfgNode, split: str) -> Dataset:
    """Construct the dataset registered as ``name`` (or ``name.capitalize()``) for ``split``."""
    for candidate in (name, name.capitalize()):
        if candidate in DATASET_REGISTRY:
            cls = DATASET_REGISTRY.get(candidate)
            from_cfg = getattr(cls, "from_cfg", None)
            return from_cfg(cfg, split) if from_cfg is not None else cls(cfg, split)
    raise ConfigError(
        f"unknown dataset {name!r} (TRAIN.DATASET / TEST.DATASET); "
        f"registered datasets: {', '.join(DATASET_REGISTRY.names())}"
    )
