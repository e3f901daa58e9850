"""A run told apart from its siblings by config overrides: the record both the PySlowFast
comparison's variants and the reproduction's runs are made of."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """``key`` names the run on the command line and ``label`` in tables; ``opts`` (KEY VALUE
    config overrides) apply to ``base``: the implementation timed ("ours", "pyslowfast") or the
    demo config trained. ``ref`` is the key of the run it is measured against ("" for none)."""

    key: str
    label: str
    base: str
    opts: tuple[str, ...] = ()
    ref: str = ""
