"""The demo pipeline at a tiny size: both runs train and test, the table, summary.json and
both figures are produced."""

import json
import os

import pytest

from sftools.demo import run_demo


def test_tiny_demo_produces_table_summary_and_figures(tmp_path, capsys):
    out = tmp_path / "demo"
    summary = run_demo(str(out), str(tmp_path / "data"), "tiny")
    printed = capsys.readouterr().out
    for row in ("training wall-clock", "speedup", "clips seen", "training compute", "test top-1"):
        assert row in printed
    with open(out / "summary.json") as f:
        on_disk = json.load(f)
    assert on_disk == json.loads(json.dumps(summary))
    assert on_disk["train_videos"] == 48 and on_disk["pair_shapes"] is False
    for run in ("baseline", "multigrid"):
        r = on_disk[run]
        assert r["train_seconds"] > 0 and r["clips_seen"] > 0 and r["train_gflop"] > 0
        assert 0 <= r["top1"] <= 100 and r["top1"] <= r["top5"] <= 100
        assert r["val_curve"], run
    base, mg = on_disk["baseline"], on_disk["multigrid"]
    assert abs(on_disk["speedup"] - base["train_seconds"] / mg["train_seconds"]) < 0.02
    # Multigrid sees more clips for less compute (1.5x the epochs at coarser shapes).
    assert mg["clips_seen"] > base["clips_seen"] and mg["train_gflop"] < base["train_gflop"]
    for png in ("accuracy_vs_wallclock.png", "multigrid_schedule.png"):
        path = out / png
        assert path.stat().st_size > 10_000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert str(path) in printed
    # A second call reuses the generated dataset.
    assert os.path.isfile(tmp_path / "data" / "train.csv")


def test_reproduce_writes_markdown_tables(tmp_path):
    from sftools.reproduce import NOTES_MARKER, run_reproduction

    md = tmp_path / "RESULTS.md"
    notes = f"{NOTES_MARKER}\n\n## Notes\n\nHand-written analysis.\n"
    md.write_text("# old measured tables, replaced\n\n" + notes)
    run_reproduction(
        str(md), str(tmp_path / "runs"), str(tmp_path / "data"), "tiny", only=("base", "mg")
    )
    text = md.read_text()
    assert "old measured tables" not in text and text.endswith(notes)
    assert "## Baseline vs multigrid at two depths" in text
    assert "| baseline (R50 layout) |" in text and "| multigrid, long + short cycles" in text
    assert "1.00x" in text  # the reference row
    assert "## Testing views" in text and "3 views x 3 crops" in text
    assert "Command: `" in text and "CPU cores" in text
    row = next(line for line in text.splitlines() if line.startswith("| multigrid, long + short"))
    assert row.split("|")[4].strip() == "baseline (R50 layout)"  # the "against" column


def test_reproduce_reuse_reads_finished_runs(tmp_path, capsys):
    """--reuse takes finished runs from their logs (same numbers, nothing retrained) and trains
    only what is missing; a run's baseline is added to --only."""
    from sftools.reproduce import run_reproduction

    runs, data = tmp_path / "runs", tmp_path / "data"
    first = tmp_path / "first.md"
    run_reproduction(str(first), str(runs), str(data), "tiny", only=("mg",))
    assert (runs / "base" / "stdout.log").is_file()  # the reference baseline came along
    log = (runs / "mg" / "stdout.log").read_text()
    capsys.readouterr()
    again = tmp_path / "again.md"
    run_reproduction(str(again), str(runs), str(data), "tiny", only=("mg", "long"), reuse=True)
    printed = capsys.readouterr().out
    assert "mg: finished run found" in printed and "base: finished run found" in printed
    assert "long: finished run found" not in printed
    assert (runs / "mg" / "stdout.log").read_text().startswith(log)  # not trained again

    def table(path):
        return [ln for ln in path.read_text().splitlines() if ln.startswith("| multigrid, long +")]

    assert table(first) == table(again)
    assert any(
        ln.startswith("| multigrid, long cycle only") for ln in again.read_text().splitlines()
    )
    assert "2 of 3 runs read from the logs of an earlier run: base, mg" in again.read_text()


def test_scale_study_writes_its_section_and_figure_between_tables_and_notes(tmp_path, monkeypatch):
    """The section's rows, gaps and speedups come from the runs; a rerun replaces the section and
    keeps the tables above it and the notes below it. (Training is covered above: here each run
    returns fixed measurements.)"""
    from sftools import reproduce, scale_study
    from sftools.demo import RunResult

    def fake_run(name, cfg):
        n = 1 if "base" in cfg.OUTPUT_DIR else 0
        videos = int(cfg.OUTPUT_DIR.split("train")[-1].split("/")[0])
        top1 = 90.0 if n else 80.0 + videos / 100
        return RunResult(name, train_seconds=300.0 if n else 100.0, top1=top1, top5=100.0)

    monkeypatch.setattr(scale_study, "run_one", fake_run)
    monkeypatch.setattr(scale_study, "ensure_dataset", lambda *a, **k: None)
    md = tmp_path / "RESULTS.md"
    md.write_text(f"# tables\n\n| a | b |\n\n{reproduce.NOTES_MARKER}\n\nmy notes\n")
    for _ in range(2):  # the second run replaces the section
        scale_study.run_scale_study(
            str(md), str(tmp_path / "runs"), str(tmp_path / "data"), sizes=(300, 600)
        )
    text = md.read_text()
    assert text.startswith("# tables\n\n| a | b |") and text.endswith("my notes\n")
    assert text.count(reproduce.SCALE_MARKER) == 1
    rows = _scale_rows(text)
    assert rows[300][3:9] == ["83.0", "-7.0", "3.00x", "83.0", "-7.0", "3.00x"]
    assert rows[600][3:6] == ["86.0", "-4.0", "3.00x"]
    assert rows[300][2] == "1"  # the demo schedule's empty whole-epoch phase
    png = tmp_path / "scale_study.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The tables' own rewrite keeps the scale section.
    assert reproduce.kept_scale_study(str(md)).strip().startswith(reproduce.SCALE_MARKER)


def _scale_rows(text: str) -> dict[int, list[str]]:
    """The scale-study table's cells after the size, by size."""
    out = {}
    for line in text.splitlines():
        cells = line.strip("| ").split(" | ")
        if line.startswith("| ") and cells[0].isdigit():
            out[int(cells[0])] = cells[1:]
    return out


def test_scale_study_adds_a_size_to_the_recorded_ones(tmp_path, monkeypatch):
    """A call with one size trains only that size; the section and the record then hold it with
    every size measured before, each row naming the command that measured it, and measuring a
    size again replaces its row. A broken record is named."""
    from sftools import scale_study
    from sftools.demo import RunResult

    trained = []

    def fake_run(name, cfg):
        videos = int(cfg.OUTPUT_DIR.split("train")[-1].split("/")[0])
        trained.append(videos)
        base = "base" in cfg.OUTPUT_DIR
        return RunResult(name, train_seconds=300.0 if base else 100.0, top1=90.0 + (not base))

    monkeypatch.setattr(scale_study, "run_one", fake_run)
    monkeypatch.setattr(scale_study, "ensure_dataset", lambda *a, **k: None)
    md = tmp_path / "RESULTS.md"
    earlier = {
        "150": {
            "runs": {
                "base": {"top1": 36.0, "train_seconds": 242.0},
                "mg_epochs": {"top1": 22.0, "train_seconds": 170.4},
                "mg_iters": {"top1": 30.7, "train_seconds": 26.86},
            },
            "empty_phases": 1,
            "command": "python tools/reproduce.py --scale",
            "date": "2026-12-01",
        }
    }
    (tmp_path / scale_study.RECORD).write_text(json.dumps({"rows": earlier}))
    monkeypatch.setattr("sys.argv", ["tools/reproduce.py", "--scale", "2400", "--reuse"])
    scale_study.run_scale_study(str(md), str(tmp_path / "runs"), str(tmp_path / "d"), (2400,))
    assert trained == [2400, 2400, 2400]
    rows = _scale_rows(md.read_text())
    assert rows[150][:3] == ["36.0", "242 s", "1"]
    assert rows[150][6:9] == ["30.7", "-5.3", "9.01x"]
    assert rows[2400][3:6] == ["91.0", "+1.0", "3.00x"]
    text = md.read_text()
    assert "- 150 videos: `python tools/reproduce.py --scale` (2026-12-01)" in text
    assert "- 2400 videos: `python tools/reproduce.py --scale 2400` (" in text  # --reuse dropped
    record = scale_study.load_record(str(md))
    assert sorted(record) == [150, 2400]
    assert record[2400].runs["base"].train_seconds == 300.0
    monkeypatch.setattr(scale_study, "run_one", lambda name, cfg: RunResult(name, 10.0, top1=50.0))
    scale_study.run_scale_study(str(md), str(tmp_path / "runs"), str(tmp_path / "d"), (2400,))
    assert _scale_rows(md.read_text())[2400][:2] == ["50.0", "10 s"]
    assert sorted(scale_study.load_record(str(md))) == [150, 2400]
    (tmp_path / scale_study.RECORD).write_text('{"rows": {"150": {"runs": {}}}}')
    with pytest.raises(SystemExit, match=r"scale_study.json is not a scale-study record \(KeyE"):
        scale_study.load_record(str(md))


def test_demo_data_remembers_its_generator_settings(tmp_path, capsys):
    import pytest

    from sftools.demo import DATA_SETTINGS, DemoSize, ensure_dataset

    size = DemoSize(4, 2, 2, 4, (32, 24), 1.0)
    data = str(tmp_path / "pairs")
    ensure_dataset(data, size, pair_shapes=True)
    with open(os.path.join(data, DATA_SETTINGS)) as f:
        assert json.load(f) == {"seed": 0, "pair_shapes": True}
    assert "a shape per class pair" in capsys.readouterr().out
    ensure_dataset(data, size, pair_shapes=True)  # the same settings: reused
    assert "using the synthetic dataset" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"made with \{'seed': 0, 'pair_shapes': True\}"):
        ensure_dataset(data, size)
    # A folder from before the marker counts as the default settings.
    os.remove(os.path.join(data, DATA_SETTINGS))
    ensure_dataset(data, size)
    with pytest.raises(SystemExit, match="pass another --data folder"):
        ensure_dataset(data, size, pair_shapes=True)
    # Another number of training videos (tools/demo.py --train N) is refused too.
    with pytest.raises(SystemExit, match=r"holds 4 training videos, not 6; pass another --data"):
        ensure_dataset(data, DemoSize(6, 2, 2, 4, (32, 24), 1.0))


def test_demo_command_line_hands_its_options_to_run_demo(monkeypatch):
    """tools/demo.py: --train N, --pair-shapes, --data, --size and the overrides reach run_demo;
    a non-positive --train is refused."""
    import demo
    import pytest

    from sftools import demo as sfdemo

    seen = []
    monkeypatch.setattr(sfdemo, "run_demo", lambda *a, **k: seen.append((a, k)))
    argv = ["--out", "o", "--size", "long", "--pair-shapes", "--train", "1200"]
    assert demo.main([*argv, "--data", "d", "SOLVER.MAX_EPOCH", "9"]) == 0
    kwargs = {"pair_shapes": True, "train_videos": 1200, "model": "slowfast"}
    assert seen == [(("o", "d", "long", ["SOLVER.MAX_EPOCH", "9"]), kwargs)]
    assert demo.main(["--model", "mvit"]) == 0
    assert seen[-1][1]["model"] == "mvit"
    assert demo.main(["--pair-shapes"]) == 0
    assert seen[-1][0][1] == "data/synthetic_kinetics_pairs" and seen[-1][1]["train_videos"] is None
    assert demo.main(["--train", "2400"]) == 0  # a folder of its own for another size
    assert seen[-1][0][1] == "data/synthetic_kinetics_train2400"
    with pytest.raises(SystemExit):
        demo.main(["--train", "0"])


def test_each_demo_model_is_a_baseline_and_its_multigrid_twin():
    """``--model``: the multigrid config of each pair is its baseline plus multigrid, and the
    pair builds the model it names."""
    import yaml

    from sftools.demo import CONFIG_DIR, MODEL_RUNS
    from slowfast.config import build_cfg

    names = {}
    for model, ((_, base), (_, mg)) in MODEL_RUNS.items():
        with open(os.path.join(CONFIG_DIR, mg)) as f:
            assert yaml.safe_load(f)["_BASE_"] == base, model
        cfg = build_cfg([os.path.join(CONFIG_DIR, mg)])
        assert cfg.MULTIGRID.LONG_CYCLE and cfg.MULTIGRID.SHORT_CYCLE
        names[model] = cfg.MODEL.MODEL_NAME
    assert names == {"slowfast": "SlowFast", "x3d": "X3D", "mvit": "MViT"}
