"""A user's own model, in the user's own file, selected by MODEL.MODEL_NAME."""

from __future__ import annotations

import textwrap

import pytest
import torch

from slowfast.config.errors import ConfigError
from slowfast.models import MODEL_REGISTRY, build_model
from slowfast.models.build import EXTRA_MODULES_ENV, import_extra_modules

from .tiny import clip_inputs, tiny_cfg

USER_FILE = """
import torch
from slowfast.models import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class {name}(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.fc = torch.nn.Linear(cfg.DATA.INPUT_CHANNEL_NUM[0], cfg.MODEL.NUM_CLASSES)

    def forward(self, x):
        return self.fc(x[0].mean((2, 3, 4)))
"""


def _write(tmp_path, module, name):
    path = tmp_path / f"{module}.py"
    path.write_text(textwrap.dedent(USER_FILE.format(name=name)))
    return path


def test_model_in_a_py_file_listed_in_the_env_var(tmp_path, monkeypatch):
    path = _write(tmp_path, "my_video_model", "MyVideoModelFromFile")
    monkeypatch.setenv(EXTRA_MODULES_ENV, f" {path} ,")
    cfg = tiny_cfg("c2d", 50, "MODEL.MODEL_NAME", "MyVideoModelFromFile")
    model = build_model(cfg)
    assert type(model).__name__ == "MyVideoModelFromFile"
    out = model(clip_inputs(cfg))
    assert out.shape == (2, 3)
    build_model(cfg)  # the file is imported once: no "already registered" error
    assert "MyVideoModelFromFile" in MODEL_REGISTRY


def test_model_in_an_importable_module(tmp_path, monkeypatch):
    _write(tmp_path, "my_pkg_model_mod", "MyVideoModelFromModule")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(EXTRA_MODULES_ENV, "my_pkg_model_mod")
    model = build_model(tiny_cfg("c2d", 50, "MODEL.MODEL_NAME", "MyVideoModelFromModule"))
    assert isinstance(model.fc, torch.nn.Linear)


def test_unregistered_name_points_at_the_env_var(monkeypatch):
    monkeypatch.delenv(EXTRA_MODULES_ENV, raising=False)
    with pytest.raises(ConfigError, match=f"'NotImportedModel'.*{EXTRA_MODULES_ENV}"):
        build_model(tiny_cfg("c2d", 50, "MODEL.MODEL_NAME", "NotImportedModel"))


def test_missing_extra_file_is_an_error(tmp_path):
    with pytest.raises(ImportError, match="no such file: .*absent.py"):
        import_extra_modules(str(tmp_path / "absent.py"))
