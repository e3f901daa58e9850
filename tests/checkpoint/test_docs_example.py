"""The Checkpointer example in docs/TRAINING.md ("## Checkpoints") runs as written."""

import os
import re

import torch

from slowfast.config import build_cfg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_checkpoints_example_saves_and_resumes(tmp_path, monkeypatch):
    with open(os.path.join(ROOT, "docs", "TRAINING.md")) as f:
        section = f.read().split("## Checkpoints\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    monkeypatch.chdir(tmp_path)
    namespace = {"model": model, "optimizer": optimizer, "cfg": build_cfg([])}
    exec(compile(code, "docs/TRAINING.md", "exec"), namespace)  # noqa: S102 (the doc's code)
    assert os.listdir(tmp_path / "out" / "checkpoints") == ["checkpoint_epoch_00001.pyth"]
    assert namespace["extras"]["epoch"] == 0
    saved = torch.load(tmp_path / "out" / "checkpoints" / "checkpoint_epoch_00001.pyth")
    assert {"epoch", "model_state", "optimizer_state", "cfg", "rng_state"} <= saved.keys()
