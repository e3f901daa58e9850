"""One timed run of a model's training step, in its own process, for the side-by-side benchmark
(:mod:`sftools.compare`).

Run as a script (``python bench_worker.py SPEC_JSON``), never imported: the PySlowFast variant must
import *PySlowFast's* ``slowfast`` package, so this file imports nothing of ours at module level.
Both variants go through the same step and timing code below, so only the models and their
precision / layout options differ. Prints one line ``RESULT {json}``.

Spec keys: ``impl`` ("ours" or "pyslowfast"), ``root`` (the folder whose ``slowfast`` package
is imported: the caller puts it first on this process's PYTHONPATH), ``cfg`` (YAML file),
``opts`` (KEY VALUE list), ``batch``, ``frames``, ``crop``, ``steps``, ``warmup``, ``threads``,
``state_in`` / ``state_out`` (a state-dict file to load strictly / to save), ``seed``.

Precision and layout follow the config as each trainer would: ours through
:mod:`slowfast.utils.precision` (``TRAIN.MIXED_PRECISION``: bfloat16 autocast on the CPU;
``MODEL.CHANNELS_LAST``); PySlowFast's trainer wraps the step in ``torch.cuda.amp.autocast``, which
leaves CPU operations in float32, and has no layout option, so its steps run in float32, NCTHW.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
import time


def _build_ours(spec: dict):
    """(cfg, model, autocast dtype, memory format) as our trainer sets them up on the CPU."""
    from slowfast.config import build_cfg
    from slowfast.config.defaults import assert_and_infer_cfg
    from slowfast.models.build import build_model
    from slowfast.utils import precision

    cfg = build_cfg([spec["cfg"]], list(spec["opts"]))
    _shape_cfg(cfg, spec)
    assert_and_infer_cfg(cfg)
    model = build_model(cfg)
    fmt = precision.memory_format(bool(cfg.MODEL.CHANNELS_LAST))  # explicit: a variant sets it
    return cfg, model, precision.train_autocast_dtype(cfg, "cpu"), fmt


def _build_pyslowfast(spec: dict):
    """(cfg, model, autocast dtype, memory format) as PySlowFast's trainer runs on the CPU."""
    import standins  # beside this script: empty modules for PySlowFast's optional imports
    import torch

    standins.install()
    import slowfast.models.video_model_builder  # noqa: F401  (registers ResNet and SlowFast)
    from slowfast.config.defaults import assert_and_infer_cfg, get_cfg
    from slowfast.models.build import MODEL_REGISTRY

    cfg = get_cfg()
    cfg.merge_from_file(spec["cfg"])
    cfg.merge_from_list(list(spec["opts"]))
    _shape_cfg(cfg, spec)
    assert_and_infer_cfg(cfg)
    # MODEL_REGISTRY directly: PySlowFast's build_model moves the model to CUDA.
    model = MODEL_REGISTRY.get(cfg.MODEL.MODEL_NAME)(cfg)
    return cfg, model, None, torch.contiguous_format


def _shape_cfg(cfg, spec: dict) -> None:
    cfg.NUM_GPUS = 0
    cfg.DATA.NUM_FRAMES = spec["frames"] or cfg.DATA.NUM_FRAMES
    cfg.DATA.TRAIN_CROP_SIZE = spec["crop"] or cfg.DATA.TRAIN_CROP_SIZE
    cfg.DATA.TEST_CROP_SIZE = cfg.DATA.TRAIN_CROP_SIZE
    cfg.TRAIN.BATCH_SIZE = cfg.TEST.BATCH_SIZE = spec["batch"]


def _inputs(cfg, batch: int, torch):
    """Random clips of the config's shape: [slow, fast] for SlowFast, [clip] otherwise."""
    t, s = cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE
    c = cfg.DATA.INPUT_CHANNEL_NUM[0]
    if cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH:
        return [
            torch.randn(batch, c, t // cfg.SLOWFAST.ALPHA, s, s),
            torch.randn(batch, c, t, s, s),
        ]
    return [torch.randn(batch, c, t, s, s)]


def run(spec: dict) -> dict:
    """Build the model of ``spec``, time its training steps, return the measurements."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(spec.get("seed", 0))
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    build = _build_pyslowfast if spec["impl"] == "pyslowfast" else _build_ours
    cfg, model, dtype, fmt = build(spec)
    module_file = sys.modules[type(model).__module__].__file__
    loaded = None
    if spec.get("state_in"):
        model.load_state_dict(
            torch.load(spec["state_in"], map_location="cpu", weights_only=True), strict=True
        )
        loaded = spec["state_in"]
    if spec.get("state_out"):
        torch.save(model.state_dict(), spec["state_out"])
    inputs = [x.contiguous(memory_format=fmt) for x in _inputs(cfg, spec["batch"], torch)]
    model = model.to(memory_format=fmt)
    labels = torch.randint(0, cfg.MODEL.NUM_CLASSES, (spec["batch"],))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def autocast():
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast("cpu", dtype=dtype)

    def step() -> None:
        with autocast():
            preds = model(inputs)
        loss = F.cross_entropy(preds.float(), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(spec["warmup"]):
        step()
    wall, cpu = [], []
    for _ in range(spec["steps"]):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "impl": spec["impl"],
        "model_file": module_file,
        "params": sum(p.numel() for p in model.parameters()),
        "state_loaded_strictly": loaded,
        "threads": torch.get_num_threads(),
        "autocast": str(dtype).replace("torch.", "") if dtype is not None else "float32",
        "channels_last": fmt == torch.channels_last_3d,
        "wall": wall,
        "cpu": cpu,
        "median_wall": statistics.median(wall),
        "median_cpu": statistics.median(cpu),
    }


if __name__ == "__main__":
    # Run as a script, this file's folder is sys.path[0]; drop it so that no module beside it
    # shadows a top-level name (the PYTHONPATH the caller set comes next), once the one module
    # needed from beside it is imported.
    import standins  # noqa: F401  (PySlowFast's optional imports, installed when it is built)

    sys.path.pop(0)
    print("RESULT " + json.dumps(run(json.loads(sys.argv[1]))), flush=True)
