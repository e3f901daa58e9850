"""Video models: the registries, ``build_model`` / ``place_model`` and the built-in ResNet /
SlowFast zoo with its cfg-free builders."""

from slowfast.models.build import MODEL_REGISTRY, build_model, import_extra_modules, place_model
from slowfast.models.norm import NORM_REGISTRY
from slowfast.models.resnet_helper import TRANS_FUNC_REGISTRY
from slowfast.models.video_model_builder import (  # registers the zoo
    ResNet,
    ResNet_nopool,
    SlowFast,
    create_resnet,
    create_slowfast,
)

__all__ = [
    "MODEL_REGISTRY",
    "NORM_REGISTRY",
    "TRANS_FUNC_REGISTRY",
    "ResNet",
    "ResNet_nopool",
    "SlowFast",
    "build_model",
    "create_resnet",
    "create_slowfast",
    "import_extra_modules",
    "place_model",
]
