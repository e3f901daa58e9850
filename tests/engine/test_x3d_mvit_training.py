"""X3D and MViTv2 train under multigrid through tools/run_net.py: the shipped multigrid configs at
reduced widths on the tiny synthetic Kinetics set, every phase entered at its planned shape, the
loss finite, and the last checkpoint loads strictly into the plain model."""

from __future__ import annotations

import math
import os

import pytest
import torch

from slowfast.config import build_cfg
from slowfast.engine.cli import main as run_net_main
from slowfast.models import build_model
from slowfast.multigrid import build_schedule, init_cfg
from tests.engine.conftest import records

KINETICS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "configs")

# The shipped configs made small: short schedule (cosine, long + short cycles), CPU, no workers.
SHORT_RUN = [
    "NUM_GPUS", "0", "DATA_LOADER.NUM_WORKERS", "0", "DATA_LOADER.PIN_MEMORY", "False",
    "TRAIN.BATCH_SIZE", "2", "TRAIN.AUTO_RESUME", "False", "TEST.ENABLE", "False",
    "DATA.NUM_FRAMES", "8", "DATA.SAMPLING_RATE", "2", "DATA.TRAIN_JITTER_SCALES", "[64, 72]",
    "DATA.TRAIN_CROP_SIZE", "64", "DATA.TEST_CROP_SIZE", "64",
    "SOLVER.MAX_EPOCH", "4", "SOLVER.STEPS", "[0, 1, 2, 3]", "SOLVER.WARMUP_EPOCHS", "0.0",
    "MULTIGRID.EPOCH_FACTOR", "1.0", "MULTIGRID.BN_BASE_SIZE", "2",
    "BN.USE_PRECISE_STATS", "False", "MODEL.DROPOUT_RATE", "0.0",
    "LOG_MODEL_INFO", "False", "LOG_PERIOD", "100",
]  # fmt: skip
MODELS = {
    "X3D_M_multigrid.yaml": [
        "X3D.DIM_C1", "4", "X3D.WIDTH_FACTOR", "1.0", "X3D.DEPTH_FACTOR", "1.0",
        "X3D.BOTTLENECK_FACTOR", "2.0", "X3D.DIM_C5", "16",
    ],
    "MVITv2_S_16x4_multigrid.yaml": ["MVIT.EMBED_DIM", "8", "MVIT.MLP_RATIO", "1.0"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(MODELS))
def test_short_multigrid_run_trains_every_phase(datasets, tmp_path, name):
    info = datasets["kinetics_mg"]
    cfg_file = os.path.join(KINETICS, "Kinetics", name)
    opts = [*info["overrides"], *SHORT_RUN, *MODELS[name], "OUTPUT_DIR", str(tmp_path)]
    assert run_net_main(["--cfg", cfg_file, *opts]) == 0
    cfg = init_cfg(build_cfg([cfg_file], opts))
    schedule = build_schedule(cfg)
    switches = records(tmp_path, "multigrid_switch")
    assert [(s["batch_size"], s["num_frames"], s["crop_size"]) for s in switches] == [
        (p.batch_size, p.num_frames, p.crop_size) for p in schedule.phases
    ]
    assert {s["num_frames"] for s in switches} == {2, 4, 8}  # long-cycle frames at 8 x 64^2
    losses = [r["loss"] for r in records(tmp_path, "train_iter")]
    assert losses and all(math.isfinite(x) for x in losses)
    last = sorted(os.listdir(tmp_path / "checkpoints"))[-1]
    state = torch.load(tmp_path / "checkpoints" / last, map_location="cpu", weights_only=True)
    build_model(build_cfg([cfg_file], opts)).load_state_dict(state["model_state"], strict=True)
