"""Config trees as flat ``{"SECTION.KEY": value}`` dicts, for tests comparing two configs, and the
shipped configs that wait on the training recipe."""

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


# The recipe switches PySlowFast's MViT configs turn on, refused until the recipe lands, with the
# values that switch them off.
RECIPE_SWITCHES = {
    "AUG.ENABLE": "False",
    "MIXUP.ENABLE": "False",
    "DATA.TRAIN_JITTER_SCALES_RELATIVE": "[]",
    "DATA.TRAIN_JITTER_ASPECT_RELATIVE": "[]",
    "DATA.USE_OFFSET_SAMPLING": "False",
}
RECIPE_OFF = [item for pair in RECIPE_SWITCHES.items() for item in pair]
# Shipped copies of PySlowFast's MViT configs, key for key: they switch the recipe on, so a run
# stops at the config check naming every switch; their _multigrid variants switch it off.
RECIPE_CONFIGS = ("MVIT_B_16x4_CONV.yaml", "MVITv2_S_16x4.yaml", "MVITv2_B_32x3.yaml")
