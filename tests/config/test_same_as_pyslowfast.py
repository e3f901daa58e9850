"""Our shipped configs that have a PySlowFast namesake set every key PySlowFast's file sets to
the same value (PySlowFast's values from tests/config/fixtures/pyslowfast_configs.json, which
tools/regenerate_fixtures.py recomputes from a checkout)."""

from __future__ import annotations

import json
import os
from ast import literal_eval

from slowfast.config import build_cfg
from slowfast.config.values import lookup

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "pyslowfast_configs.json")


def _as_loaded(value):
    """A YAML value as a config holds it: strings that are Python literals are decoded (PyYAML
    reads ``1e-4`` as a string; yacs turns it into the float), tuples compare as lists."""
    if isinstance(value, str):
        try:
            return _as_loaded(literal_eval(value))
        except (ValueError, SyntaxError):
            return value
    if isinstance(value, (list, tuple)):
        return [_as_loaded(v) for v in value]
    return value


def test_shipped_configs_equal_their_pyslowfast_namesakes():
    with open(FIXTURE) as f:
        theirs = json.load(f)["configs"]
    pairs = [rel for rel in sorted(theirs) if os.path.exists(os.path.join(ROOT, rel))]
    assert len(pairs) >= 11  # Kinetics C2D/I3D/I3D-NL/Slow/SlowFast, SSv2 and Charades
    differences = []
    for rel in pairs:
        ours = build_cfg([os.path.join(ROOT, rel)])
        for key, value in theirs[rel].items():
            mine = _as_loaded(lookup(ours, key))
            if mine != _as_loaded(value):
                differences.append(f"{rel}: {key} is {mine!r} here, {value!r} in PySlowFast")
    assert differences == []
