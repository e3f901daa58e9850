"""Config trees as flat ``{"SECTION.KEY": value}`` dicts, for tests comparing two configs."""

from __future__ import annotations

from typing import Any


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value of every leaf of the nested mapping ``node``."""
    out = {}
    for key, value in node.items():
        if hasattr(value, "items"):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
