"""Shared utilities: logging, distributed helpers, meters, LR policies."""
