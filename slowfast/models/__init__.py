"""Video models: the registry, ``build_model`` and the built-in ResNet / SlowFast zoo."""

from slowfast.models.build import MODEL_REGISTRY, build_model, import_extra_modules
from slowfast.models.video_model_builder import ResNet, ResNet_nopool, SlowFast  # registers

__all__ = [
    "MODEL_REGISTRY",
    "ResNet",
    "ResNet_nopool",
    "SlowFast",
    "build_model",
    "import_extra_modules",
]
