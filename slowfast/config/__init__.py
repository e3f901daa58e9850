"""Config tree, file loading and validation."""

from slowfast.config.defaults import assert_and_infer_cfg, get_cfg
from slowfast.config.errors import ConfigError
from slowfast.config.loader import build_cfg, merge_from_file, merge_from_list

__all__ = [
    "ConfigError",
    "assert_and_infer_cfg",
    "build_cfg",
    "get_cfg",
    "merge_from_file",
    "merge_from_list",
]
