"""The dataset registry and ``build_dataset``.

Contract for a registered dataset: ``@DATASET_REGISTRY.register()`` on a
``torch.utils.data.Dataset`` class whose constructor is ``cls(cfg, split)`` with split one of
"train", "val", "test". The registered name is the class name; configs select it with
``TRAIN.DATASET`` / ``TEST.DATASET``: the exact registered name first, then PySlowFast's rule
(the name capitalised: "kinetics" -> "Kinetics", "ssv2" -> "Ssv2").
"""

from fvcore.common.registry import Registry

DATASET_REGISTRY = Registry("DATASET")
DATASET_REGISTRY.__doc__ = __doc__
