"""Video models: the registries, ``build_model`` / ``place_model`` and the built-in zoo (ResNet,
SlowFast, X3D, MViT) with its cfg-free builders."""

from slowfast.models.build import MODEL_REGISTRY, build_model, import_extra_modules, place_model
from slowfast.models.mvit import MViT, create_mvit  # registers MViT
from slowfast.models.norm import NORM_REGISTRY
from slowfast.models.resnet_helper import TRANS_FUNC_REGISTRY
from slowfast.models.video_model_builder import (  # registers the ResNet zoo
    ResNet,
    ResNet_nopool,
    SlowFast,
    create_resnet,
    create_slowfast,
)
from slowfast.models.x3d import X3D, create_x3d  # registers X3D and x3d_transform

__all__ = [
    "MODEL_REGISTRY",
    "NORM_REGISTRY",
    "TRANS_FUNC_REGISTRY",
    "ResNet",
    "ResNet_nopool",
    "MViT",
    "SlowFast",
    "X3D",
    "build_model",
    "create_mvit",
    "create_resnet",
    "create_slowfast",
    "create_x3d",
    "import_extra_modules",
    "place_model",
]
