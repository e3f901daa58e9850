"""docs/MODELS.md "Adding a model": its Python example runs as it stands, in a fresh process."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from .tiny import ROOT

DOC = os.path.join(ROOT, "docs", "MODELS.md")


def _example(section: str) -> str:
    """The first ```python block of the ``## section`` of the doc."""
    with open(DOC) as f:
        text = f.read()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", body, re.S)
    assert match, f"no python block in the {section!r} section of {DOC}"
    return match.group(1)


def test_adding_a_model_example_runs(tmp_path):
    script = tmp_path / "adding_a_model.py"
    script.write_text(_example("Adding a model"))
    env = {**os.environ, "PYTHONPATH": ROOT}
    env.pop("SLOWFAST_EXTRA_MODULES", None)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"TinyVideoNet: \d+ parameters\n", done.stdout), done.stdout
