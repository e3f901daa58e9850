"""The demo pipeline at a tiny size: both runs train and test, the table, summary.json and
both figures are produced."""

import json
import os

from slowfast.engine.demo import run_demo


def test_tiny_demo_produces_table_summary_and_figures(tmp_path, capsys):
    out = tmp_path / "demo"
    summary = run_demo(str(out), str(tmp_path / "data"), "tiny")
    printed = capsys.readouterr().out
    for row in ("training wall-clock", "speedup", "clips seen", "training compute", "test top-1"):
        assert row in printed
    with open(out / "summary.json") as f:
        on_disk = json.load(f)
    assert on_disk == json.loads(json.dumps(summary))
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
    from slowfast.engine.reproduce import run_reproduction

    md = tmp_path / "RESULTS.md"
    run_reproduction(str(md), str(tmp_path / "runs"), str(tmp_path / "data"), "tiny",
                     only=("base", "mg"))
    text = md.read_text()
    assert "## Baseline vs multigrid at two depths" in text
    assert "| baseline (R50 layout) |" in text and "| multigrid, long + short cycles" in text
    assert "1.00x" in text  # the reference row
    assert "## Testing views" in text and "3 views x 3 crops" in text
    assert "Command: `" in text and "CPU cores" in text
