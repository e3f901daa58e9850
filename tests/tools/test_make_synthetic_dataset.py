"""tools/make_synthetic_dataset.py hands every option to the generator."""

import make_synthetic_dataset
import pytest

import slowfast.datasets.synthetic as synthetic


def test_every_option_reaches_make_dataset(tmp_path, monkeypatch, capsys):
    seen = {}

    def fake(fmt, out, num_classes, splits, **options):
        seen.update(fmt=fmt, num_classes=num_classes, splits=splits, **options)
        return {"root": out, "overrides": []}

    monkeypatch.setattr(synthetic, "make_dataset", fake)
    argv = ["--format", "kinetics", "--out", str(tmp_path), "--num-classes", "8"]
    argv += ["--train", "6", "--val", "2", "--test", "2", "--size", "96x72", "--fps", "12"]
    argv += ["--seconds", "1.5", "--seed", "3", "--workers", "1", "--period-scale", "3"]
    assert make_synthetic_dataset.main([*argv, "--pair-shapes"]) == 0
    assert seen == {
        "fmt": "kinetics",
        "num_classes": 8,
        "splits": {"train": 6, "val": 2, "test": 2},
        "seed": 3,
        "size": (96, 72),
        "fps": 12.0,
        "seconds": 1.5,
        "workers": 1,
        "period_scale": 3.0,
        "pair_shapes": True,
    }
    assert make_synthetic_dataset.main(argv) == 0
    assert seen["pair_shapes"] is False
    assert "wrote 10 kinetics videos" in capsys.readouterr().out


def test_a_bad_value_is_a_usage_error(tmp_path, capsys):
    argv = ["--format", "kinetics", "--out", str(tmp_path), "--period-scale", "0", "--train", "1"]
    with pytest.raises(SystemExit) as exc:
        make_synthetic_dataset.main(argv)
    assert exc.value.code == 2
    assert "period_scale must be > 0" in capsys.readouterr().err
