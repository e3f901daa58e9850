"""Config tree, file loading and the one validation pass."""

from slowfast.config.defaults import get_cfg
from slowfast.config.errors import ConfigError
from slowfast.config.loader import build_cfg, merge_from_file, merge_from_list
from slowfast.config.validate import Choices, assert_and_infer_cfg, thawed, validate_cfg

__all__ = [
    "Choices",
    "ConfigError",
    "assert_and_infer_cfg",
    "build_cfg",
    "get_cfg",
    "merge_from_file",
    "merge_from_list",
    "thawed",
    "validate_cfg",
]
