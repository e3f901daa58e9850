"""`tools/run_net.py --cfg C --dry-run` exits 0 for every shipped config and prints the model
size."""

import glob
import os

import pytest

from slowfast.engine.cli import main
from tests.config_keys import RECIPE_CONFIGS, RECIPE_OFF, RECIPE_SWITCHES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "**", "*.yaml"), recursive=True))
CONFIGS = [c for c in CONFIGS if f"{os.sep}base{os.sep}" not in c]


def test_configs_are_found():
    assert len(CONFIGS) > 30


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: os.path.relpath(c, ROOT))
def test_dry_run(cfg, capsys):
    if os.path.basename(cfg) in RECIPE_CONFIGS:
        # Stops at the config check naming every recipe switch; dry-runs with them off.
        with pytest.raises(SystemExit) as stop:
            main(["--cfg", cfg, "--dry-run"])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert all(key in err for key in RECIPE_SWITCHES) and "Traceback" not in err
        assert main(["--cfg", cfg, "--dry-run", *RECIPE_OFF]) == 0
    else:
        assert main(["--cfg", cfg, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "params: " in out and "M" in out.split("params: ")[1].split("\n")[0]
    assert "GFLOPs (train shape): " in out and "not available" not in out
