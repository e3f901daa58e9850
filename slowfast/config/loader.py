"""Merging YAML files and command-line overrides into the config, with errors a user can act on.

yacs' own merge stops at the first unknown key with a bare ``KeyError``. Here every override
remembers where it came from (a file, through ``_BASE_`` inheritance, or the command line), so an
unknown key names that source and the closest valid keys, and a wrongly typed value names the key,
the expected type and the given value.
"""

from __future__ import annotations

import difflib
import os
from ast import literal_eval
from collections.abc import Iterable, Sequence
from typing import Any

import yaml
from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError

BASE_KEY = "_BASE_"
# Keys yacs lets a config set without a default: none. Listed here for clarity.
_NEW_ALLOWED: frozenset[str] = frozenset()


def all_keys(cfg: CfgNode, prefix: str = "") -> list[str]:
    """Every leaf key of ``cfg`` in dotted form."""
    out = []
    for k, v in cfg.items():
        name = f"{prefix}{k}"
        if isinstance(v, CfgNode):
            out.extend(all_keys(v, name + "."))
        else:
            out.append(name)
    return out


def _all_nodes(cfg: CfgNode, prefix: str = "") -> list[str]:
    out = []
    for k, v in cfg.items():
        if isinstance(v, CfgNode):
            out.append(f"{prefix}{k}")
            out.extend(_all_nodes(v, f"{prefix}{k}."))
    return out


def closest_keys(cfg: CfgNode, key: str, n: int = 3) -> list[str]:
    """The valid dotted keys that look most like ``key`` (best first)."""
    candidates = all_keys(cfg) + _all_nodes(cfg)
    hits = difflib.get_close_matches(key, candidates, n=n, cutoff=0.6)
    if not hits:
        # Compare the last component only, e.g. "BASE_LRR" vs "SOLVER.BASE_LR".
        last = key.split(".")[-1]
        by_last = {c.split(".")[-1]: c for c in candidates}
        hits = [by_last[h] for h in difflib.get_close_matches(last, list(by_last), n=n)]
    return hits


def _read_yaml(path: str, chain: tuple[str, ...] = ()) -> list[tuple[str, Any, str]]:
    """Flatten a YAML file (after its ``_BASE_`` files) into (dotted key, value, source) rows."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        where = f" (the _BASE_ of {chain[-1]})" if chain else ""
        raise ConfigError(f"config file not found: {path}{where}")
    if path in chain:
        raise ConfigError(f"_BASE_ cycle: {' -> '.join(chain + (path,))}")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of config keys")
    rows: list[tuple[str, Any, str]] = []
    bases = data.pop(BASE_KEY, None)
    if bases:
        for base in [bases] if isinstance(bases, str) else list(bases):
            base_path = os.path.expanduser(base)
            if not os.path.isabs(base_path):
                base_path = os.path.join(os.path.dirname(path), base_path)
            rows.extend(_read_yaml(base_path, chain + (path,)))

    def walk(d: dict, prefix: str) -> None:
        for k, v in d.items():
            name = f"{prefix}{k}"
            if isinstance(v, dict) and v:
                walk(v, name + ".")
            else:
                rows.append((name, v, path))

    walk(data, "")
    return rows


def _decode(value: Any) -> Any:
    """Turn strings such as '1e-4' or '[1, 2]' into Python values, as yacs does."""
    if isinstance(value, dict):
        return CfgNode(value)
    if not isinstance(value, str):
        return value
    try:
        return literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def _type_name(value: Any) -> str:
    return type(value).__name__


def _coerce(key: str, default: Any, value: Any, source: str) -> Any:
    """Check ``value`` against the type of ``default``; convert where yacs would."""
    if default is None or value is None:
        return value
    if isinstance(default, bool) or isinstance(value, bool):
        if isinstance(default, bool) and isinstance(value, bool):
            return value
    elif isinstance(default, float) and isinstance(value, int):
        return float(value)
    elif isinstance(default, (list, tuple)) and isinstance(value, (list, tuple)):
        return type(default)(value) if isinstance(default, tuple) else list(value)
    elif isinstance(default, str) and isinstance(value, str):
        return value
    elif type(default) is type(value):
        return value
    raise ConfigError(
        f"{key}: expected {_type_name(default)} (like the default {default!r}), "
        f"got {_type_name(value)} {value!r} from {source}"
    )


def _set(cfg: CfgNode, key: str, value: Any, source: str) -> None:
    parts = key.split(".")
    node = cfg
    for _i, part in enumerate(parts[:-1]):
        if part not in node or not isinstance(node[part], CfgNode):
            _unknown(cfg, key, source)
        node = node[part]
    last = parts[-1]
    if last not in node:
        _unknown(cfg, key, source)
    if isinstance(node[last], CfgNode):
        raise ConfigError(
            f"{key} is a group of keys, not a value (from {source}); "
            f"set one of {', '.join(sorted(node[last].keys()))}"
        )
    node[last] = _coerce(key, node[last], _decode(value), source)


def _unknown(cfg: CfgNode, key: str, source: str) -> None:
    hits = closest_keys(cfg, key)
    hint = f"; did you mean {' or '.join(hits)}?" if hits else ""
    raise ConfigError(f"unknown config key {key} (from {source}){hint}")


def merge_from_file(cfg: CfgNode, path: str) -> CfgNode:
    """Merge one YAML file (and its ``_BASE_`` chain) into ``cfg`` in place."""
    for key, value, source in _read_yaml(path):
        _set(cfg, key, value, source)
    return cfg


def merge_from_list(cfg: CfgNode, opts: Sequence[str], source: str = "the command line") -> CfgNode:
    """Merge ``KEY VALUE`` pairs (as given on the command line) into ``cfg`` in place."""
    opts = list(opts)
    if len(opts) % 2:
        raise ConfigError(
            f"overrides on {source} must come in KEY VALUE pairs; {opts[-1]!r} has no value"
        )
    for key, value in zip(opts[0::2], opts[1::2]):
        _set(cfg, key, value, source)
    return cfg


def build_cfg(cfg_files: Iterable[str] = (), opts: Sequence[str] = ()) -> CfgNode:
    """Defaults, then each file in order, then command-line overrides; not yet validated."""
    from slowfast.config.defaults import get_cfg

    cfg = get_cfg()
    for path in cfg_files:
        merge_from_file(cfg, path)
    merge_from_list(cfg, opts)
    return cfg
