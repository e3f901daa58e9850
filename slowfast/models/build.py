"""The model registry and ``build_model``.

Contract for a registered model: ``@MODEL_REGISTRY.register()`` on a ``torch.nn.Module`` class
whose constructor takes the config node (``cls(cfg)``) and whose ``forward`` takes a list of
input tensors, one per pathway, each ``N x C x T x H x W``, and returns ``N x NUM_CLASSES``
scores. ``MODEL.MODEL_NAME`` selects the class by its exact registered name.
"""

from fvcore.common.registry import Registry

MODEL_REGISTRY = Registry("MODEL")
MODEL_REGISTRY.__doc__ = __doc__
