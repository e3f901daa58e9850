"""The ``make demo`` job: baseline vs multigrid training of the same small SlowFast on a synthetic
Kinetics-format dataset, from the same seed, then multi-view testing of both, a side-by-side
table, ``summary.json`` and two figures.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fvcore.common.config import CfgNode

from sftools.curves import parse_json_stats
from sftools.paths import CONFIGS_DIR
from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.datasets import cache as decoded_cache
from slowfast.datasets.synthetic import make_dataset
from slowfast.engine.launch import seed_everything, train
from slowfast.engine.tester import test
from slowfast.models import build_model
from slowfast.models.stats import gflops
from slowfast.multigrid import build_schedule, init_cfg
from slowfast.multigrid.report import plot_schedule
from slowfast.utils.atomic import atomic_write_text
from slowfast.utils.logging import setup_logging

CONFIG_DIR = os.path.join(CONFIGS_DIR, "Synthetic")


@dataclass(frozen=True)
class DemoSize:
    """How big the demo is: dataset, clip and network."""

    train: int
    val: int
    test: int
    num_classes: int
    video_size: tuple[int, int]
    seconds: float
    opts: tuple[str, ...] = ()  # config overrides applied to both runs


# Overrides that turn the demo's R50-layout network into the R18 layout (basic blocks).
R18_LAYOUT = (
    "RESNET.DEPTH",
    "18",
    "RESNET.TRANS_FUNC",
    "basic_transform",
    "RESNET.NUM_BLOCK_TEMP_KERNEL",
    "[[2, 2], [2, 2], [2, 2], [2, 2]]",
)

SIZES: dict[str, DemoSize] = {
    # The main job: about six minutes on two CPU cores.
    "default": DemoSize(600, 150, 150, 8, (96, 72), 2.2),
    # The same with twice the epoch budget for both runs (LR steps and warm-up scaled with it):
    # the regime the paper's claim is about, where the baseline has iterations to spare.
    "long": DemoSize(
        600,
        150,
        150,
        8,
        (96, 72),
        2.2,
        opts=(
            "SOLVER.STEPS",
            "[0, 16, 22]",
            "SOLVER.MAX_EPOCH",
            "24",
            "SOLVER.WARMUP_EPOCHS",
            "4.0",
            "TRAIN.EVAL_PERIOD",
            "4",
            "TRAIN.CHECKPOINT_PERIOD",
            "8",
        ),
    ),
    # Seconds, for the test suite: a tiny dataset and network, a short schedule.
    "tiny": DemoSize(
        48,
        8,
        8,
        4,
        (48, 40),
        1.4,
        opts=(
            *R18_LAYOUT,
            "DATA.TRAIN_JITTER_SCALES",
            "[40, 44]",
            "DATA.TRAIN_CROP_SIZE",
            "32",
            "DATA.TEST_CROP_SIZE",
            "32",
            "TRAIN.BATCH_SIZE",
            "2",
            "MULTIGRID.BN_BASE_SIZE",
            "2",
            "SOLVER.STEPS",
            "[0, 2, 3]",
            "SOLVER.MAX_EPOCH",
            "4",
            "SOLVER.WARMUP_EPOCHS",
            "0.0",
            "TEST.BATCH_SIZE",
            "8",
            "TEST.NUM_ENSEMBLE_VIEWS",
            "2",
            "TEST.NUM_SPATIAL_CROPS",
            "1",
            "BN.NUM_BATCHES_PRECISE",
            "2",
        ),
    ),
}
RUNS = (("baseline", "SLOWFAST_demo.yaml"), ("multigrid", "SLOWFAST_demo_multigrid.yaml"))
# ``--model``: the network of both runs (same data, clips, epochs and LR steps; configs/Synthetic).
MODEL_RUNS = {
    "slowfast": RUNS,
    "x3d": (("baseline", "X3D_demo.yaml"), ("multigrid", "X3D_demo_multigrid.yaml")),
    "mvit": (("baseline", "MVITv2_demo.yaml"), ("multigrid", "MVITv2_demo_multigrid.yaml")),
}


@dataclass
class RunResult:
    """What one training + testing run measured."""

    name: str
    train_seconds: float = 0.0
    clips_seen: int = 0
    gflop: float = 0.0
    top1: float = 0.0
    top5: float = 0.0
    curve: list[tuple[float, float]] = field(default_factory=list)  # (train s, val top-1 %)

    def to_dict(self) -> dict[str, Any]:
        return {
            "train_seconds": round(self.train_seconds, 2),
            "clips_seen": self.clips_seen,
            "train_gflop": round(self.gflop, 1),
            "top1": round(self.top1, 2),
            "top5": round(self.top5, 2),
            "val_curve": [[round(t, 2), round(a, 2)] for t, a in self.curve],
        }

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> RunResult:
        """The inverse of :meth:`to_dict`; keys a record does not hold stay at their defaults."""
        return cls(
            name,
            train_seconds=float(d.get("train_seconds", 0.0)),
            clips_seen=int(d.get("clips_seen", 0)),
            gflop=float(d.get("train_gflop", 0.0)),
            top1=float(d.get("top1", 0.0)),
            top5=float(d.get("top5", 0.0)),
            curve=[(float(t), float(a)) for t, a in d.get("val_curve", [])],
        )


DATA_SETTINGS = "demo_data.json"  # the generator settings of a demo dataset, beside its files


def ensure_dataset(data_dir: str, size: DemoSize, seed: int = 0, pair_shapes: bool = False) -> None:
    """Generate the synthetic Kinetics-format dataset unless ``data_dir`` already holds it.

    ``pair_shapes`` draws each class pair with its own shape (one frame tells the pair, as in
    Kinetics; the default classes differ only in motion, as in SSv2). A folder made with other
    settings, or with another number of training videos, is refused rather than reused.
    """
    settings = {"seed": seed, "pair_shapes": pair_shapes}
    marker = os.path.join(data_dir, DATA_SETTINGS)
    if all(os.path.isfile(os.path.join(data_dir, f"{s}.csv")) for s in ("train", "val", "test")):
        found = {"seed": 0, "pair_shapes": False}  # folders written before the marker existed
        if os.path.isfile(marker):
            with open(marker) as f:
                found.update(json.load(f))
        with open(os.path.join(data_dir, "train.csv")) as f:
            videos = sum(1 for line in f if line.strip())
        if videos != size.train:
            raise SystemExit(
                f"error: {data_dir} holds {videos} training videos, not {size.train}; "
                "pass another --data folder"
            )
        if found != settings:
            raise SystemExit(
                f"error: {data_dir} holds a demo dataset made with {found}, not {settings}; "
                "pass another --data folder"
            )
        print(f"[demo] using the synthetic dataset in {data_dir}", flush=True)
        return
    print(
        f"[demo] writing a synthetic Kinetics-format dataset to {data_dir} "
        f"({size.train} train / {size.val} val / {size.test} test videos"
        f"{', a shape per class pair' if pair_shapes else ''}) ...",
        flush=True,
    )
    t0 = time.perf_counter()
    make_dataset(
        "kinetics",
        data_dir,
        size.num_classes,
        {"train": size.train, "val": size.val, "test": size.test},
        seed=seed,
        size=size.video_size,
        fps=15.0,
        seconds=size.seconds,
        pair_shapes=pair_shapes,
    )
    with open(marker, "w") as f:
        json.dump(settings, f)
    print(f"[demo] dataset written in {time.perf_counter() - t0:.0f} s", flush=True)


def demo_cfg(
    run_cfg: str, data_dir: str, out_dir: str, size: DemoSize, extra: Sequence[str] = ()
) -> CfgNode:
    """The validated config of one demo run."""
    opts = [
        "DATA.PATH_TO_DATA_DIR",
        data_dir,
        "DATA.PATH_PREFIX",
        data_dir,
        "MODEL.NUM_CLASSES",
        str(size.num_classes),
        "OUTPUT_DIR",
        out_dir,
        *size.opts,
        *extra,
    ]
    return assert_and_infer_cfg(build_cfg([os.path.join(CONFIG_DIR, run_cfg)], opts))


def _records(out_dir: str) -> list[dict[str, Any]]:
    out = []
    with open(os.path.join(out_dir, "stdout.log")) as f:
        for line in f:
            rec = parse_json_stats(line)
            if rec is not None:
                out.append(rec)
    return out


def _gflop_per_clip(cfg: CfgNode, shapes: Sequence[str]) -> dict[str, float]:
    """fvcore GFLOPs of one clip at each "TxS" shape, for the model of ``cfg``."""
    model = build_model(cfg)
    out = {}
    for shape in shapes:
        frames, crop = (int(v) for v in shape.split("x"))
        probe = cfg.clone()
        probe.DATA.NUM_FRAMES, probe.DATA.TRAIN_CROP_SIZE = frames, crop
        out[shape] = gflops(model, probe, mode="train")
    return out


def run_one(name: str, cfg: CfgNode) -> RunResult:
    """Train then test one configuration in this process; the results are those that
    ``train`` and ``test`` return."""
    if os.path.isdir(cfg.OUTPUT_DIR):
        shutil.rmtree(cfg.OUTPUT_DIR)  # a fresh run each time: the demo measures training
    decoded_cache.clear()  # each run pays for its own decoding
    setup_logging(cfg.OUTPUT_DIR)
    seed_everything(cfg.RNG_SEED)
    print(f"[demo] training the {name} run -> {cfg.OUTPUT_DIR}", flush=True)
    trained = train(cfg)
    print(
        f"[demo] testing the {name} run ({cfg.TEST.NUM_ENSEMBLE_VIEWS} x "
        f"{cfg.TEST.NUM_SPATIAL_CROPS} views per video)",
        flush=True,
    )
    final = test(cfg)
    return _result(name, cfg, trained["train_done"], final, trained.get("val_history") or [])


def read_result(name: str, cfg: CfgNode) -> RunResult | None:
    """The measurements of a finished run, from the log in its OUTPUT_DIR (to reuse a run of an
    earlier invocation); None when the run has not finished training and testing."""
    if not os.path.isfile(os.path.join(cfg.OUTPUT_DIR, "stdout.log")):
        return None
    recs = _records(cfg.OUTPUT_DIR)
    done = [r for r in recs if r.get("_type") == "train_done"]
    tests = [r for r in recs if r.get("_type") == "test_final"]
    if not done or not tests:
        return None
    vals = [r for r in recs if r.get("_type") == "val_epoch"]
    return _result(name, cfg, done[-1], tests[-1], vals)


def _result(
    name: str, cfg: CfgNode, done: dict[str, Any], final: dict[str, Any], vals: list[dict]
) -> RunResult:
    """A run's measurements from its ``train_done`` and ``test_final`` records and its
    ``val_epoch`` records."""
    result = RunResult(name, train_seconds=done["train_time_s"], clips_seen=done["clips_seen"])
    result.top1 = 100.0 - final["top1_err"]
    result.top5 = 100.0 - final["top5_err"]
    result.curve = [(r["train_time_s"], 100.0 - r["top1_err"]) for r in vals]
    by_shape = done.get("clips_by_shape", {})
    per_clip = _gflop_per_clip(cfg, list(by_shape))
    result.gflop = sum(per_clip[s] * n for s, n in by_shape.items())
    return result


def format_table(base: RunResult, mg: RunResult) -> str:
    """The side-by-side table printed at the end."""
    rows = [
        ("training wall-clock", f"{base.train_seconds:.0f} s", f"{mg.train_seconds:.0f} s"),
        ("speedup", "1.00x", f"{base.train_seconds / max(mg.train_seconds, 1e-9):.2f}x"),
        ("clips seen", f"{base.clips_seen}", f"{mg.clips_seen}"),
        (
            "training compute",
            f"{base.gflop:.0f} GFLOP",
            f"{mg.gflop:.0f} GFLOP ({mg.gflop / max(base.gflop, 1e-9):.2f}x)",
        ),
        ("test top-1", f"{base.top1:.1f}%", f"{mg.top1:.1f}%"),
        ("test top-5", f"{base.top5:.1f}%", f"{mg.top5:.1f}%"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'':<{width}}  {'baseline':>14}  {'multigrid':>22}"]
    lines += [f"{k:<{width}}  {a:>14}  {b:>22}" for k, a, b in rows]
    return "\n".join(lines)


def plot_accuracy(results: Sequence[RunResult], path: str) -> None:
    """Validation top-1 accuracy against training wall-clock time, one line per run."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    for r in results:
        if r.curve:
            xs, ys = zip(*r.curve)
            ax.plot(
                [x / 60 for x in xs], ys, marker="o", label=f"{r.name} (test top-1 {r.top1:.1f}%)"
            )
    ax.set_xlabel("training wall-clock (minutes)")
    ax.set_ylabel("validation top-1 accuracy (%)")
    ax.set_title("Baseline vs multigrid on synthetic Kinetics")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run_demo(
    out_dir: str = "output/demo",
    data_dir: str = "data/synthetic_kinetics",
    size_name: str = "default",
    extra_opts: Sequence[str] = (),
    pair_shapes: bool = False,
    train_videos: int | None = None,
    model: str = "slowfast",
) -> dict[str, Any]:
    """Run the whole demo; returns the summary that is also written to summary.json.
    ``train_videos`` replaces the size's number of training videos (the same validation and test
    videos); ``model`` picks the network pair of :data:`MODEL_RUNS`."""
    runs = MODEL_RUNS[model]
    size = SIZES[size_name]
    if train_videos is not None:
        size = dataclasses.replace(size, train=train_videos)
    out_dir, data_dir = os.path.abspath(out_dir), os.path.abspath(data_dir)
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    ensure_dataset(data_dir, size, pair_shapes=pair_shapes)
    results = {}
    for name, run_cfg in runs:
        cfg = demo_cfg(run_cfg, data_dir, os.path.join(out_dir, name), size, extra_opts)
        results[name] = run_one(name, cfg)
    base, mg = results["baseline"], results["multigrid"]
    speedup = base.train_seconds / max(mg.train_seconds, 1e-9)
    summary = {name: r.to_dict() for name, r in results.items()}
    summary["speedup"] = round(speedup, 2)
    summary["compute_ratio"] = round(mg.gflop / max(base.gflop, 1e-9), 3)
    summary["model"] = model
    summary["pair_shapes"] = pair_shapes
    summary["train_videos"] = size.train
    summary["total_seconds"] = round(time.perf_counter() - t0, 1)
    summary_path = os.path.join(out_dir, "summary.json")
    atomic_write_text(summary_path, json.dumps(summary, indent=2))
    curve_png = os.path.join(out_dir, "accuracy_vs_wallclock.png")
    plot_accuracy([base, mg], curve_png)
    schedule_png = os.path.join(out_dir, "multigrid_schedule.png")
    mg_cfg = init_cfg(
        demo_cfg(runs[1][1], data_dir, os.path.join(out_dir, "multigrid"), size, extra_opts)
    )
    plot_schedule(build_schedule(mg_cfg), schedule_png)
    print("\n" + format_table(base, mg) + "\n", flush=True)
    print(f"[demo] summary:  {summary_path}", flush=True)
    print(f"[demo] figure:   {curve_png}", flush=True)
    print(f"[demo] schedule: {schedule_png}", flush=True)
    print(f"[demo] total time {summary['total_seconds']:.0f} s", flush=True)
    return summary
