"""``tools/benchmark.py model``: clips/s and achieved FLOP rate of a model on this machine.

Usage::

    python tools/benchmark.py model --cfg FILE [--batch B --frames T --crop S
        --mode train|eval --steps N --warmup W --channels-last --compile --bf16 --threads K
        --device cpu|cuda --peak-gflops P] [KEY VALUE ...]

One training step is forward + cross-entropy + backward + an SGD step; an evaluation step is a
forward without gradients. The figure reported is the median over ``--steps`` timed steps after
``--warmup`` untimed ones.

FLOP rates: fvcore counts a multiply-add as one "flop" (the model zoo's GFLOPs). A training step
is taken as 3 forwards (the backward costs about two). The machine's FP32 peak, in real FLOP/s
(2 per multiply-add), is estimated on CPUs as threads x clock x FP32 FLOPs per cycle per core
(see :func:`cpu_peak_gflops`); pass ``--peak-gflops`` to use a known figure instead (required on
GPUs). Threads may be SMT siblings sharing a core, in which case the estimate is too high.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from slowfast.config import build_cfg
from slowfast.config.defaults import assert_and_infer_cfg
from slowfast.models.build import build_model, place_model
from slowfast.models.stats import dummy_inputs, gflops
from slowfast.utils import precision


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tools/benchmark.py model", description="Time a model's training or test steps."
    )
    p.add_argument("--cfg", required=True, help="model config (YAML)")
    p.add_argument("--batch", type=int, default=2, help="clips per step (default 2)")
    p.add_argument("--frames", type=int, help="frames per clip (default DATA.NUM_FRAMES)")
    p.add_argument("--crop", type=int, help="crop size (default DATA.TRAIN_CROP_SIZE)")
    p.add_argument("--mode", choices=("train", "eval"), default="train")
    p.add_argument("--steps", type=int, default=5, help="timed steps (default 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument(
        "--channels-last",
        action="store_true",
        help="channels_last_3d memory format (as MODEL.CHANNELS_LAST True)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument(
        "--bf16",
        action="store_true",
        help="bfloat16 autocast (TRAIN.MIXED_PRECISION True gives it on CPUs, float16 on CUDA)",
    )
    p.add_argument("--threads", type=int, help="torch intra-op threads (CPU)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    p.add_argument("--peak-gflops", type=float, help="the device's FP32 peak in GFLOP/s")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")
    return p


def cpu_peak_gflops(threads: int) -> float | None:
    """Estimated FP32 peak (GFLOP/s, 2 per FMA) of ``threads`` cores; None if unknown.

    FLOPs per cycle per core: 64 with a full-width AVX-512 FMA pair (Intel AVX-512, AMD Zen 5 =
    family 26 and later), 32 with two 256-bit FMA units (AVX2, Zen 4's double-pumped AVX-512),
    at the clock /proc/cpuinfo reports (boost clocks make the true peak higher).
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return None

    def field(name: str) -> str:
        return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith(name)), "")

    flags = field("flags").split()
    mhz = field("cpu MHz")
    if not mhz or "fma" not in flags:
        return None
    vendor, family = field("vendor_id"), int(field("cpu family") or 0)
    wide = "avx512f" in flags and (vendor == "GenuineIntel" or family >= 26)
    per_cycle = 64 if wide else 32 if "avx2" in flags else 16
    return threads * float(mhz) / 1e3 * per_cycle


def make_step(
    model: nn.Module,
    inputs: list[torch.Tensor],
    mode: str,
    num_classes: int,
    autocast: Callable[[], contextlib.AbstractContextManager],
) -> Callable[[], None]:
    """A closure running one training step (fwd, loss, bwd, SGD) or one test forward."""
    labels = torch.randint(0, num_classes, (inputs[0].shape[0],), device=inputs[0].device)
    if mode == "eval":
        model.eval()

        def step() -> None:
            with torch.no_grad(), autocast():
                model(inputs)

        return step
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step() -> None:
        with autocast():
            loss = F.cross_entropy(model(inputs).float(), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


@dataclass
class StepTimes:
    """Per-step wall-clock seconds and CPU seconds of this process (all its threads)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def time_steps(step: Callable[[], None], steps: int, warmup: int, cuda: bool) -> StepTimes:
    """Time each of ``steps`` calls of ``step`` after ``warmup`` untimed calls.

    On a machine shared with other jobs the wall time grows with their load while the CPU time
    this process spends stays roughly the same, so both are recorded.
    """
    for _ in range(warmup):
        step()
    times = StepTimes()
    for _ in range(steps):
        if cuda:
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        if cuda:
            torch.cuda.synchronize()
        times.wall.append(time.perf_counter() - wall)
        times.cpu.append(time.process_time() - cpu)
    return times


def main(argv: Sequence[str]) -> int:
    """Run the benchmark described by ``argv`` (see the module docstring); returns 0."""
    argv = list(argv)
    if argv[:1] == ["model"]:
        argv = argv[1:]
    args = _parser().parse_args(argv)
    threads_before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        _run(args)
    finally:
        torch.set_num_threads(threads_before)
    return 0


def _run(args: argparse.Namespace) -> None:
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cfg = build_cfg([args.cfg], list(args.opts))
    cfg.NUM_GPUS = 1 if device == "cuda" else 0
    cfg.DATA.NUM_FRAMES = args.frames or cfg.DATA.NUM_FRAMES
    cfg.DATA.TRAIN_CROP_SIZE = args.crop or cfg.DATA.TRAIN_CROP_SIZE
    cfg.DATA.TEST_CROP_SIZE = cfg.DATA.TRAIN_CROP_SIZE
    cfg.TRAIN.BATCH_SIZE = cfg.TEST.BATCH_SIZE = args.batch
    assert_and_infer_cfg(cfg)

    model = place_model(build_model(cfg), device)
    gflops_clip = gflops(model, cfg, "train")
    # The same helpers as the trainer's MODEL.CHANNELS_LAST and TRAIN.MIXED_PRECISION.
    channels_last = args.channels_last or bool(cfg.MODEL.CHANNELS_LAST)
    fmt = precision.memory_format(channels_last)
    inputs = precision.to_memory_format(dummy_inputs(cfg, batch=args.batch, device=device), fmt)
    model = model.to(memory_format=fmt)
    runner: nn.Module = torch.compile(model) if args.compile else model
    dtype = torch.bfloat16 if args.bf16 else precision.train_autocast_dtype(cfg, device)

    def autocast() -> contextlib.AbstractContextManager:
        return precision.autocast(device, dtype)

    step = make_step(runner, inputs, args.mode, cfg.MODEL.NUM_CLASSES, autocast)
    times = time_steps(step, args.steps, args.warmup, cuda=device == "cuda")
    median = statistics.median(times.wall)
    clips_per_s = args.batch / median
    fwd_factor = 3 if args.mode == "train" else 1
    gmacs_per_s = gflops_clip * fwd_factor * clips_per_s
    threads = torch.get_num_threads()
    peak = args.peak_gflops or (cpu_peak_gflops(threads) if device == "cpu" else None)

    shapes = " + ".join("x".join(str(d) for d in x.shape) for x in inputs)
    flags = {
        "channels_last": channels_last,
        "compile": args.compile,
        "bf16": dtype == torch.bfloat16,
        "fp16": dtype == torch.float16,
    }
    options = [name for name, on in flags.items() if on]
    print(f"model     {cfg.MODEL.MODEL_NAME}/{cfg.MODEL.ARCH} R{cfg.RESNET.DEPTH} "
          f"({os.path.basename(args.cfg)}), {args.mode}, input {shapes}")  # fmt: skip
    print(f"device    {device}, {threads} threads, options: {', '.join(options) or 'none'}")
    print(f"steps     {', '.join(f'{t:.4g}' for t in times.wall)} s (median {median:.4g} s)")
    cpu = statistics.median(times.cpu)
    print(f"cpu time  {cpu:.4g} s per step (median; {cpu / median:.2f} cores busy on average)")
    print(f"speed     {clips_per_s:.2f} clips/s")
    print(
        f"compute   {gflops_clip:.4g} GFLOPs/clip (fvcore, MACs) -> {gmacs_per_s:.4g} GMAC/s"
        f" = {2 * gmacs_per_s:.4g} GFLOP/s"
    )
    if peak:
        fraction = 2 * gmacs_per_s / peak
        print(f"peak      {peak:.0f} GFLOP/s FP32 (estimate) -> {fraction:.1%} of peak")
