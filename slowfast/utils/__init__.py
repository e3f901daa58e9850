"""Shared utilities: logging, checkpoints, distributed helpers, meters, LR policies."""
