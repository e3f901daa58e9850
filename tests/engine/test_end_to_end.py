"""One-to-two-epoch "instant" runs: train, validate, checkpoint and multi-view test on tiny
synthetic Kinetics, SSv2 and Charades datasets through tools/run_net.py's entry point.
"""

import os

import torch

from tests.engine.conftest import records, run_net


def test_kinetics_train_val_checkpoint_test(datasets, tmp_path):
    out = tmp_path / "k"
    assert (
        run_net(
            datasets["kinetics"],
            out,
            *(
                "SOLVER.MAX_EPOCH 2 TEST.NUM_ENSEMBLE_VIEWS 10 TEST.NUM_SPATIAL_CROPS 3 "
                "TEST.SAVE_RESULTS_PATH scores.pyth TENSORBOARD.ENABLE True"
            ).split(),
        )
        == 0
    )
    epochs = records(out, "train_epoch")
    assert [r["epoch"] for r in epochs] == [1, 2]
    assert epochs[-1]["clips_seen"] == 2 * 24  # 24 videos, batch 8, drop_last
    assert all(0 <= r["top1_err"] <= 100 and r["loss"] > 0 for r in epochs)
    val = records(out, "val_epoch")
    assert [r["epoch"] for r in val] == [1, 2] and val[0]["num_clips"] == 8
    ckpts = sorted(os.listdir(out / "checkpoints"))
    assert ckpts == ["checkpoint_epoch_00001.pyth", "checkpoint_epoch_00002.pyth"]
    state = torch.load(out / "checkpoints" / ckpts[-1], map_location="cpu", weights_only=True)
    assert state["epoch"] == 1 and {"model_state", "optimizer_state", "cfg"} <= set(state)
    (test,) = records(out, "test_final")
    assert test["num_videos"] == 8 and test["views"] == 30
    assert 0 <= test["top1_err"] <= 100 and test["top5_err"] <= test["top1_err"]
    assert os.path.isfile(out / "scores.pyth")
    log = (out / "stdout.log").read_text()
    assert "world size: 1" in log
    events = [f for f in os.listdir(out / "runs-kinetics") if f.startswith("events.out.tfevents")]
    assert events and os.path.getsize(out / "runs-kinetics" / events[0]) > 0


def test_ssv2_segment_sampling_run(datasets, tmp_path):
    out = tmp_path / "s"
    assert (
        run_net(
            datasets["ssv2"],
            out,
            *"SOLVER.MAX_EPOCH 1 TEST.NUM_ENSEMBLE_VIEWS 10 TEST.NUM_SPATIAL_CROPS 3".split(),
        )
        == 0
    )
    (test,) = records(out, "test_final")
    assert test["num_videos"] == 8 and test["views"] == 30
    assert len(records(out, "train_epoch")) == 1


def test_charades_multilabel_map(datasets, tmp_path):
    out = tmp_path / "c"
    assert (
        run_net(
            datasets["charades"],
            out,
            *(
                "SOLVER.MAX_EPOCH 1 MODEL.LOSS_FUNC bce_logit MODEL.HEAD_ACT sigmoid "
                "DATA.MULTI_LABEL True TEST.ENSEMBLE_METHOD max TEST.NUM_ENSEMBLE_VIEWS 10 "
                "TEST.NUM_SPATIAL_CROPS 3"
            ).split(),
        )
        == 0
    )
    (val,) = records(out, "val_epoch")
    assert 0 <= val["map"] <= 1
    (test,) = records(out, "test_final")
    assert 0 <= test["map"] <= 1 and "top1_err" not in test


def test_corrupt_and_empty_videos_are_skipped_and_named(datasets, tmp_path):
    """A training CSV with a corrupt and a zero-length video runs to the end; the log names both
    and the epoch summary counts them."""
    info = datasets["kinetics"]
    root = info["root"]
    data = tmp_path / "bad_data"
    data.mkdir()
    (data / "corrupt.mp4").write_bytes(b"this is not a video" * 100)
    (data / "empty.mp4").write_bytes(b"")
    lines = open(os.path.join(root, "train.csv")).read().splitlines()
    lines = [f"{os.path.join(root, line.split()[0])} {line.split()[1]}" for line in lines]
    lines += [f"{data / 'corrupt.mp4'} 0", f"{data / 'empty.mp4'} 1"]
    (data / "train.csv").write_text("\n".join(lines) + "\n")
    for split in ("val", "test"):
        rows = open(os.path.join(root, f"{split}.csv")).read().splitlines()
        (data / f"{split}.csv").write_text(
            "\n".join(f"{os.path.join(root, r.split()[0])} {r.split()[1]}" for r in rows) + "\n"
        )
    out = tmp_path / "bad"
    opts = [o for o in info["overrides"]]
    opts[opts.index("DATA.PATH_TO_DATA_DIR") + 1] = str(data)
    opts[opts.index("DATA.PATH_PREFIX") + 1] = ""
    argv_info = dict(info, overrides=opts)
    assert (
        run_net(
            argv_info,
            out,
            *(
                "SOLVER.MAX_EPOCH 1 TRAIN.BATCH_SIZE 2 TEST.NUM_ENSEMBLE_VIEWS 1 "
                "TEST.NUM_SPATIAL_CROPS 1"
            ).split(),
        )
        == 0
    )
    (epoch,) = records(out, "train_epoch")
    assert epoch["bad_samples"] == 2
    log = (out / "stdout.log").read_text()
    assert "corrupt.mp4" in log and "empty.mp4" in log
    assert "2 bad training sample(s) skipped" in log


def test_cpu_mixed_precision_and_channels_last_training(monkeypatch, datasets, tmp_path):
    """TRAIN.MIXED_PRECISION runs every training forward under bfloat16 autocast on the CPU (no
    gradient scaler, float32 weights); MODEL.CHANNELS_LAST lays out weights and clips as
    channels_last_3d while checkpoints keep the default layout; the run trains and tests."""
    import slowfast.models.video_model_builder as vmb

    seen = []
    original = vmb.SlowFast.forward

    def spy(self, x):
        cl = torch.channels_last_3d
        seen.append(
            {
                "training": self.training,
                "autocast": torch.is_autocast_enabled("cpu"),
                "dtype": torch.get_autocast_dtype("cpu"),
                "weights_cl": self.s1.pathway0_stem.conv.weight.is_contiguous(memory_format=cl),
                "inputs_cl": all(t.is_contiguous(memory_format=cl) for t in x),
            }
        )
        return original(self, x)

    monkeypatch.setattr(vmb.SlowFast, "forward", spy)
    out = tmp_path / "amp"
    assert (
        run_net(
            datasets["kinetics"],
            out,
            *(
                "SOLVER.MAX_EPOCH 2 TRAIN.MIXED_PRECISION True MODEL.CHANNELS_LAST True "
                "TEST.NUM_ENSEMBLE_VIEWS 2 TEST.NUM_SPATIAL_CROPS 1"
            ).split(),
        )
        == 0
    )
    train = [s for s in seen if s["training"]]
    assert len(train) == 2 * 3  # 24 videos, batch 8, 2 epochs
    assert all(s["autocast"] and s["dtype"] == torch.bfloat16 for s in train)
    assert all(s["weights_cl"] and s["inputs_cl"] for s in train)
    assert all(s["weights_cl"] for s in seen)  # the tester's model too
    epochs = records(out, "train_epoch")
    assert [r["epoch"] for r in epochs] == [1, 2]
    assert all(0 < r["loss"] < 10 for r in epochs)
    state = torch.load(
        out / "checkpoints" / "checkpoint_epoch_00002.pyth", map_location="cpu", weights_only=True
    )
    assert "scaler_state" not in state  # bfloat16 needs no loss scaling
    weights = state["model_state"]
    assert all(w.dtype == torch.float32 for w in weights.values() if w.is_floating_point())
    assert all(w.is_contiguous() for w in weights.values())
    (test,) = records(out, "test_final")
    assert test["num_videos"] == 8 and 0 <= test["top1_err"] <= 100
