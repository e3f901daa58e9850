"""Regenerate the PySlowFast reference fixtures of the tests from a PySlowFast checkout, or check
that they are unchanged (``tools/regenerate_fixtures.py``).

* ``configs``: ``tests/config/fixtures/pyslowfast_configs.json``, the key/value pairs of
  PySlowFast's C2D / I3D / Slow / SlowFast configs for Kinetics, SSv2 and Charades, flattened
  (read as YAML: no PySlowFast code runs).
* ``layouts``: ``tests/models/fixtures/pyslowfast_state_layouts.json.gz``, parameter counts and
  state-dict layouts of PySlowFast's own models (``pyslowfast_worker.py``, in its own process).
* ``outputs``: ``tests/models/fixtures/pyslowfast_outputs.json.gz``, for the same models at a
  64-pixel crop, no dropout, with weights set by a rule: PySlowFast's scores (eval and training
  mode) and fvcore's GFLOPs of one clip.
* ``schedules``: ``tests/multigrid/fixtures/pyslowfast_schedules.json``, PySlowFast's multigrid
  schedules replayed through its training loop (the procedure in docs/MULTIGRID.md).

The entries and cases are the committed fixture's own (their keys, configs and overrides), so a
regeneration recomputes exactly what is there; the files are written in their committed format.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import yaml

from sftools.paths import REPO_ROOT
from slowfast.utils.atomic import atomic_write

FIXTURES = {
    "configs": os.path.join(REPO_ROOT, "tests", "config", "fixtures", "pyslowfast_configs.json"),
    "layouts": os.path.join(
        REPO_ROOT, "tests", "models", "fixtures", "pyslowfast_state_layouts.json.gz"
    ),
    "outputs": os.path.join(REPO_ROOT, "tests", "models", "fixtures", "pyslowfast_outputs.json.gz"),
    "schedules": os.path.join(
        REPO_ROOT, "tests", "multigrid", "fixtures", "pyslowfast_schedules.json"
    ),
}
OUTPUTS_SOURCE = (
    "PySlowFast (facebookresearch/SlowFast) commit 287ec00, video_model_builder, NUM_GPUS 0, "
    "DATA.TRAIN_CROP_SIZE / TEST_CROP_SIZE 64, MODEL.DROPOUT_RATE 0, MVIT.DROPPATH_RATE 0, "
    "weights by fill_weights, "
    "clips by clip_inputs "
    "(tools/sftools/pyslowfast_worker.py)"
)
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyslowfast_worker.py")
# PySlowFast config folders and file-name prefixes the configs fixture covers.
CONFIG_FOLDERS = ("configs/Kinetics", "configs/Kinetics/c2", "configs/SSv2", "configs/Charades")
CONFIG_PREFIXES = ("C2D", "I3D", "SLOW", "X3D", "MVIT")  # SLOW covers SLOWFAST, MVIT MVITv2


def read_fixture(name: str) -> Any:
    path = FIXTURES[name]
    if name == "outputs" and not os.path.exists(path):
        return {"source": OUTPUTS_SOURCE, "models": {}}
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def format_fixture(name: str, data: Any) -> str:
    """The text of fixture ``name`` holding ``data``, in the committed file's format."""
    if name == "configs":
        return json.dumps(data, indent=1, sort_keys=True)
    if name in ("layouts", "outputs"):
        return json.dumps(data, separators=(",", ":"))
    head = {k: v for k, v in data.items() if k != "cases"}
    lines = ["{"] + [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    lines.append(' "cases": {')
    cases = [
        f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}"
        for k, v in data["cases"].items()
    ]
    lines.append(",\n".join(cases))
    return "\n".join(lines) + "\n }\n}\n"


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: node}


def configs(pysf: str, current: dict) -> dict:
    """Every C2D / I3D / Slow / SlowFast config of the covered folders, flattened."""
    found = {}
    for folder in CONFIG_FOLDERS:
        for name in sorted(os.listdir(os.path.join(pysf, folder))):
            if name.endswith(".yaml") and name.startswith(CONFIG_PREFIXES):
                rel = f"{folder}/{name}"
                with open(os.path.join(pysf, rel), encoding="utf-8") as f:
                    found[rel] = _flatten(yaml.safe_load(f))
    return {**current, "configs": found}


def _run_worker(pysf: str, task: str, payload: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([pysf, os.environ.get("PYTHONPATH", "")]))
    spec = json.dumps({"task": task, "root": pysf, **payload})
    proc = subprocess.run(
        [sys.executable, WORKER, spec], capture_output=True, text=True, env=env, timeout=1800
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"PySlowFast worker ({task}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def layouts(pysf: str, current: dict) -> dict:
    entries = {
        key: {"pyslowfast_config": m["pyslowfast_config"], "overrides": m["overrides"]}
        for key, m in current["models"].items()
    }
    return {**current, "models": _run_worker(pysf, "layouts", {"entries": entries})}


def outputs(pysf: str, current: dict) -> dict:
    """The outputs of the layouts fixture's models (their entries are the ones to run)."""
    entries = {
        key: {"pyslowfast_config": m["pyslowfast_config"], "overrides": m["overrides"]}
        for key, m in read_fixture("layouts")["models"].items()
    }
    return {**current, "models": _run_worker(pysf, "outputs", {"entries": entries})}


def schedules(pysf: str, current: dict) -> dict:
    cases = {
        k: {"config": c["config"], "overrides": c["overrides"]} for k, c in current["cases"].items()
    }
    return {**current, "cases": _run_worker(pysf, "schedules", {"cases": cases})}


BUILDERS: dict[str, Callable[[str, dict], dict]] = {
    "configs": configs,
    "layouts": layouts,
    "outputs": outputs,
    "schedules": schedules,
}


def regenerate(pysf: str, names: list[str], check: bool) -> dict[str, bool]:
    """Recompute each fixture from ``pysf``; write it, or with ``check`` only compare. Returns
    ``{name: unchanged}`` (unchanged: the recomputed data equal the committed data)."""
    if not os.path.isfile(os.path.join(pysf, "slowfast", "utils", "multigrid.py")):
        raise FileNotFoundError(
            f"{pysf}: not a PySlowFast checkout (no slowfast/utils/multigrid.py)"
        )
    result = {}
    for name in names:
        current = read_fixture(name)
        fresh = BUILDERS[name](pysf, current)
        result[name] = fresh == current
        if not check:
            write_fixture(FIXTURES[name], format_fixture(name, fresh))
    return result


def write_fixture(path: str, text: str) -> None:
    """Write ``text`` to ``path``; a ``.gz`` keeps the gzip header time of the file it
    replaces, so that unchanged data give an unchanged file."""
    data = text.encode("utf-8")
    if not path.endswith(".gz"):
        atomic_write(path, lambda f: f.write(data))
        return
    mtime = 0  # a new file: a fixed time, so that regenerating gives the same bytes
    if os.path.exists(path):
        with gzip.open(path, "rb") as old:
            old.read(1)
            mtime = old.mtime

    def write(f):
        with gzip.GzipFile(os.path.basename(path), "wb", 9, f, mtime=mtime) as gz:
            gz.write(data)

    atomic_write(path, write)
