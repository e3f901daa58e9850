#!/usr/bin/env python3
"""GPU check: train steps and loader throughput at every shape of a multigrid schedule.

    python tools/gpu_check.py [--cfg configs/Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.yaml]
        [--data DIR] [--workers 8] [--variants fp32,amp,cl,amp+cl,compile] [--budget-s 420]

For every clip shape the schedule trains at (with its per-GPU batch), times CUDA training steps
(forward, loss, backward, SGD) in each variant -- float32, autocast (bfloat16 where the GPU has
it, else float16), channels-last, both, and torch.compile (recompiled at each shape change, as
multigrid makes them; compile time reported) -- and reports clips/s and peak memory. With
``--data`` (a Kinetics-format folder; without it a synthetic Kinetics-like set of 340x256, 10 s
videos is written to a temporary folder) it also measures the loader's clips/s at each shape
with ``--workers`` processes, and gives a verdict per shape: loader-bound when the loader
delivers fewer clips/s than the fastest variant trains. Stops starting new measurements past
``--budget-s`` (the rest is reported as skipped). ``--device cpu`` runs the same on the CPU
(for testing the script; its figures say nothing about a GPU).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time

DEFAULT_CFG = "configs/Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.yaml"
VARIANTS = ("fp32", "amp", "cl", "amp+cl", "compile")


def per_gpu_batches(schedule, num_gpus: int) -> dict:
    """Each clip shape of the schedule and its per-GPU batch (the largest it is trained at)."""
    out = {}
    for phase in schedule.phases:
        for (batch, _), shape in zip(phase.short_cycle, phase.clip_shapes()):
            out[shape] = max(out.get(shape, 0), max(1, batch // max(num_gpus, 1)))
    return out


def _variant_step(cfg, shape, batch: int, variant: str, device):
    """(step closure, model) for one shape and variant."""
    import torch

    from sftools.model_benchmark import make_step
    from slowfast.models.build import build_model, place_model
    from slowfast.models.stats import dummy_inputs
    from slowfast.utils import precision

    probe = cfg.clone()
    probe.defrost()
    probe.DATA.NUM_FRAMES, probe.DATA.TRAIN_CROP_SIZE = shape.num_frames, shape.crop_size
    model = place_model(build_model(probe), device)
    inputs = dummy_inputs(probe, batch, device=device)
    if "cl" in variant.split("+"):
        fmt = precision.memory_format(True)
        model = model.to(memory_format=fmt)
        inputs = precision.to_memory_format(inputs, fmt)
    amp_dtype = None
    if "amp" in variant.split("+"):
        amp_dtype = (
            torch.bfloat16
            if device.type == "cpu" or torch.cuda.is_bf16_supported()
            else torch.float16
        )
    if variant == "compile":
        model = torch.compile(model)

    def autocast():
        return precision.autocast(device, amp_dtype) if amp_dtype else contextlib.nullcontext()

    return make_step(model, inputs, "train", cfg.MODEL.NUM_CLASSES, autocast), model


def measure_model(cfg, shapes: dict, variants, device, steps: int, warmup: int, deadline: float):
    """{(shape, variant): (clips/s, peak MB, compile s) or None when skipped}."""
    import torch

    from sftools.model_benchmark import time_steps

    cuda = device.type == "cuda"
    out = {}
    for variant in variants:
        for shape, batch in shapes.items():
            if time.perf_counter() > deadline:
                out[(shape, variant)] = None
                continue
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            step, _ = _variant_step(cfg, shape, batch, variant, device)
            t0 = time.perf_counter()
            step()  # the first call compiles (compile variant) and warms up allocators
            if cuda:
                torch.cuda.synchronize()
            first = time.perf_counter() - t0
            times = time_steps(step, steps, max(warmup - 1, 0), cuda)
            median = sorted(times.wall)[len(times.wall) // 2]
            peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else 0.0
            out[(shape, variant)] = (batch / median, peak, first if variant == "compile" else 0.0)
    return out


def synthetic_data(folder: str) -> str:
    """A Kinetics-like set: 24 videos, 340x256, 10 s at 30 fps (as BENCHMARKS.md's)."""
    from slowfast.datasets.synthetic import make_dataset

    make_dataset(
        "kinetics",
        folder,
        10,
        {"train": 24, "val": 0, "test": 0},
        seed=0,
        size=(340, 256),
        fps=30.0,
        seconds=10.0,
        workers=os.cpu_count() or 1,
    )
    return folder


def main(argv: list[str]) -> int:
    import torch

    from sftools.phase_benchmark import loader_clips_per_s, shape_label
    from slowfast.config import build_cfg
    from slowfast.config.defaults import assert_and_infer_cfg
    from slowfast.datasets.build import build_dataset
    from slowfast.multigrid import build_schedule, init_cfg

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfg", default=DEFAULT_CFG)
    parser.add_argument("--data", default=None, help="Kinetics-format folder for the loader")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--budget-s", type=float, default=420.0)
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--loader-batches", type=int, default=4)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "gpu_check: error: no CUDA device here (torch.cuda.is_available() is False); "
            "this check needs a GPU (--device cpu only tests the script)",
            file=sys.stderr,
        )
        return 2
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        print(f"gpu_check: error: unknown variants {unknown} (known: {VARIANTS})", file=sys.stderr)
        return 2
    deadline = time.perf_counter() + args.budget_s
    device = torch.device(args.device)
    cfg = assert_and_infer_cfg(build_cfg([args.cfg], list(args.opts)))
    schedule = build_schedule(init_cfg(cfg.clone()))
    shapes = per_gpu_batches(schedule, cfg.NUM_GPUS)
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    print(f"gpu check on {name}: {args.cfg}, {len(shapes)} shapes, variants {variants}")
    model = measure_model(cfg, shapes, variants, device, args.steps, args.warmup, deadline)

    loader = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or synthetic_data(os.path.join(tmp, "kinetics_like"))
        lcfg = cfg.clone()
        lcfg.defrost()
        lcfg.DATA.PATH_TO_DATA_DIR = lcfg.DATA.PATH_PREFIX = data
        dataset = build_dataset(lcfg.TRAIN.DATASET, lcfg, "train")
        for shape, batch in shapes.items():
            if time.perf_counter() > deadline:
                loader[shape] = None
                continue
            loader[shape] = loader_clips_per_s(
                dataset, shape, args.workers, batch, args.loader_batches
            )

    head = f"{'shape':<30}{'batch':>6}" + "".join(f"{v + ' clips/s':>17}" for v in variants)
    print(head + f"{'peak MB':>9}{'compile s':>10}{'loader':>8}  verdict")
    for shape, batch in shapes.items():
        row = f"{shape_label(shape):<30}{batch:>6}"
        best, peak, compile_s = 0.0, 0.0, None
        for v in variants:
            r = model[(shape, v)]
            row += f"{'skipped':>17}" if r is None else f"{r[0]:>17.1f}"
            if r is not None:
                best, peak = max(best, r[0]), max(peak, r[1])
                compile_s = r[2] if v == "compile" else compile_s
        rate = loader[shape]
        verdict = (
            "n/a"
            if rate is None or best == 0
            else ("loader-bound" if rate < best else "compute-bound")
        )
        row += f"{peak:>9.0f}{'-' if compile_s is None else f'{compile_s:.1f}':>10}"
        row += f"{'skipped' if rate is None else f'{rate:.1f}':>8}  {verdict}"
        print(row)
    return 0


def run(argv: list[str]) -> int:
    """:func:`main`, with a bad config or dataset reported in one line (exit status 2)."""
    from slowfast.engine.cli import user_error_types
    from slowfast.utils.parser import user_error

    try:
        return main(argv)
    except user_error_types() as e:
        user_error(str(e))


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
