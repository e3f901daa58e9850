"""tools/regenerate_fixtures.py: the committed PySlowFast fixtures are written back byte for
byte by its formatter, the configs fixture is recomputed from a checkout's YAML files, and a
folder that is no PySlowFast checkout is refused. (Run against facebookresearch/SlowFast at
287ec00 every fixture regenerates unchanged; CI has no checkout, so that run is recorded in
docs/MULTIGRID.md rather than repeated here.)"""

from __future__ import annotations

import gzip
import subprocess
import sys

import pytest

from sftools import pyslowfast_fixtures as fx

SCRIPT = fx.os.path.join(fx.REPO_ROOT, "tools", "regenerate_fixtures.py")


@pytest.mark.parametrize("name", sorted(fx.FIXTURES))
def test_the_formatter_writes_each_committed_fixture_back_unchanged(name, tmp_path):
    path = fx.FIXTURES[name]
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        committed = f.read()
    assert fx.format_fixture(name, fx.read_fixture(name)) == committed
    if path.endswith(".gz"):  # the gzip header keeps the replaced file's time: same bytes
        copy = tmp_path / fx.os.path.basename(path)  # the header names the file
        copy.write_bytes(open(path, "rb").read())
        fx.write_fixture(str(copy), committed)
        assert copy.read_bytes() == open(path, "rb").read()


def _fake_checkout(root):
    (root / "slowfast" / "utils").mkdir(parents=True)
    (root / "slowfast" / "utils" / "multigrid.py").write_text("")
    for folder in fx.CONFIG_FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "configs/Kinetics/SLOWFAST_8x8_R50.yaml").write_text(
        "TRAIN:\n  BATCH_SIZE: 64\nRESNET:\n  SPATIAL_STRIDES: [[1, 1], [2, 2]]\nNUM_GPUS: 8\n"
    )
    # Reversible MViT: not a covered model.
    (root / "configs/Kinetics/REV_MVIT_B_16x4_CONV.yaml").write_text("NUM_GPUS: 8\n")
    (root / "configs/SSv2/I3D_8x8_R50.yaml").write_text("DATA:\n  NUM_FRAMES: 8\n")


def test_the_configs_fixture_is_recomputed_from_the_yaml_files(tmp_path):
    _fake_checkout(tmp_path)
    fresh = fx.configs(str(tmp_path), {"source": "s", "configs": {"old": {}}})
    assert fresh == {
        "source": "s",
        "configs": {
            "configs/Kinetics/SLOWFAST_8x8_R50.yaml": {
                "NUM_GPUS": 8,
                "RESNET.SPATIAL_STRIDES": [[1, 1], [2, 2]],
                "TRAIN.BATCH_SIZE": 64,
            },
            "configs/SSv2/I3D_8x8_R50.yaml": {"DATA.NUM_FRAMES": 8},
        },
    }


def test_a_folder_that_is_no_checkout_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a PySlowFast checkout"):
        fx.regenerate(str(tmp_path), ["configs"], check=True)


def test_check_mode_reports_a_difference_with_status_1(tmp_path):
    _fake_checkout(tmp_path)
    run = subprocess.run(
        [sys.executable, SCRIPT, "--pyslowfast", str(tmp_path), "--check", "configs"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1 and run.stdout.strip() == "configs: DIFFERS"
