"""Runs PySlowFast's own code to record what the reference fixtures hold (see
:mod:`sftools.pyslowfast_fixtures`): ``python pyslowfast_worker.py SPEC_JSON`` with a PySlowFast
checkout first on PYTHONPATH. Never imported: ``slowfast`` here is *PySlowFast's* package, so this
file imports nothing of ours. Prints one line ``RESULT {json}``.

Tasks (``SPEC["task"]``):

* ``layouts``: for each entry (PySlowFast config file, KEY VALUE overrides), PySlowFast's default
  config merged with both, NUM_GPUS 0, ``assert_and_infer_cfg``, the model from its registry:
  the parameter count and the state dict's keys and shapes, in order.
* ``outputs``: for each entry, the model built at a reduced crop (:data:`OUTPUT_OPTS`), its
  weights set by :func:`fill_weights`, and on :func:`clip_inputs`: the logits in eval mode and
  in training mode, and fvcore's GFLOPs of one clip. The tests import these two functions (they
  are plain torch) to put the same weights and clips into our models.
* ``schedules``: for each case (config file, overrides), ``MultigridSchedule().init_multigrid``
  and a replay of PySlowFast's training loop (``update_long_cycle`` at epoch 0, then before every
  epoch), recording the schedule, the solver keys, the shape and BN keys of every epoch as runs,
  the epochs where the shape changed, and where ``is_eval_epoch`` / ``is_checkpoint_epoch`` hold;
  an exception is recorded as its type, message, innermost function and source line.
"""

from __future__ import annotations

import json
import sys
import traceback

# What the schedule fixture records of every epoch, in this order.
EPOCH_KEYS = (
    "TRAIN.BATCH_SIZE",
    "DATA.NUM_FRAMES",
    "DATA.TRAIN_CROP_SIZE",
    "MULTIGRID.LONG_CYCLE_SAMPLING_RATE",
    "BN.NORM_TYPE",
    "BN.NUM_SPLITS",
    "BN.NUM_SYNC_DEVICES",
)


# The reduced shape of the outputs task (PySlowFast's heads pool with kernels sized from it), and
# no dropout or stochastic depth, so that training-mode scores are deterministic.
OUTPUT_OPTS = [
    "DATA.TRAIN_CROP_SIZE", "64", "DATA.TEST_CROP_SIZE", "64", "MODEL.DROPOUT_RATE", "0.0",
    "MVIT.DROPPATH_RATE", "0.0",
]  # fmt: skip
OUTPUT_BATCH = 4  # divisible by the sub-BN splits of the fixture's variants
OUTPUT_CLASSES = 10  # scores kept per clip


def fill_weights(state: dict) -> dict:
    """Deterministic values for a state dict, from each entry's position and shape only: small
    weights, positive running variances, counters left alone. Returns a new dict."""
    import torch

    out = {}
    for i, (key, value) in enumerate(state.items()):
        if not value.is_floating_point():
            out[key] = value.clone()
            continue
        g = torch.Generator().manual_seed(1000 + i)
        noise = torch.randn(value.shape, generator=g, dtype=torch.float64).float()
        if key.endswith("running_var"):
            out[key] = noise.abs() * 0.5 + 0.5
        elif key.endswith(("bn.weight", "_bn.weight")) or ".bn.weight" in key:
            out[key] = noise * 0.1 + 1.0
        else:
            fan_in = max(1, value[0].numel()) if value.dim() > 1 else 1
            out[key] = noise * (1.0 / fan_in) ** 0.5 if value.dim() > 1 else noise * 0.1
    return out


def clip_inputs(num_frames: int, alpha: int | None, crop: int = 64) -> list:
    """Seeded clips, ``[slow, fast]`` when ``alpha`` (SlowFast) else ``[clip]``."""
    import torch

    g = torch.Generator().manual_seed(7)
    clip = torch.randn((OUTPUT_BATCH, 3, num_frames, crop, crop), generator=g)
    return [clip[:, :, ::alpha].contiguous(), clip] if alpha else [clip]


def outputs(spec: dict) -> dict:
    import torch
    from fvcore.nn import FlopCountAnalysis

    import slowfast.models.video_model_builder  # noqa: F401  (registers the models)
    from slowfast.config.defaults import assert_and_infer_cfg
    from slowfast.models.build import MODEL_REGISTRY

    out = {}
    for key, entry in spec["entries"].items():
        cfg = _cfg(spec["root"], entry["pyslowfast_config"], entry["overrides"] + OUTPUT_OPTS)
        cfg.NUM_GPUS = 0
        assert_and_infer_cfg(cfg)
        model = MODEL_REGISTRY.get(cfg.MODEL.MODEL_NAME)(cfg)
        model.load_state_dict(fill_weights(model.state_dict()))
        # As PySlowFast's training loop does before evaluating (misc.aggregate_sub_bn_stats):
        # sub-BN's evaluation statistics from its per-split ones.
        for module in model.modules():
            if hasattr(module, "aggregate_stats"):
                module.aggregate_stats()
        multi = cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH
        x = clip_inputs(cfg.DATA.NUM_FRAMES, cfg.SLOWFAST.ALPHA if multi else None)
        with torch.no_grad():
            evaluated = model.eval()(x)
            trained = model.train()(x)
            model.eval()
            flops = FlopCountAnalysis(model, ([t[:1] for t in x],))
            flops.unsupported_ops_warnings(False)
            flops.uncalled_modules_warnings(False)
            gflops = flops.total() / 1e9
        out[key] = {
            **entry,
            "gflops_64": gflops,
            # The first classes of each clip: enough to show a difference anywhere upstream (and
            # in eval mode, through the softmax, in any class).
            "eval": [row[:OUTPUT_CLASSES] for row in evaluated.tolist()],
            "train": [row[:OUTPUT_CLASSES] for row in trained.tolist()],
        }
    return out


def _cfg(root: str, config: str, overrides: list):
    import os

    from slowfast.config.defaults import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(os.path.join(root, config))
    cfg.merge_from_list([str(v) if not isinstance(v, str) else v for v in overrides])
    return cfg


def layouts(spec: dict) -> dict:
    import slowfast.models.video_model_builder  # noqa: F401  (registers the models)
    from slowfast.config.defaults import assert_and_infer_cfg
    from slowfast.models.build import MODEL_REGISTRY

    out = {}
    for key, entry in spec["entries"].items():
        cfg = _cfg(spec["root"], entry["pyslowfast_config"], entry["overrides"])
        cfg.NUM_GPUS = 0
        assert_and_infer_cfg(cfg)
        # The registry directly: PySlowFast's build_model would move the model to CUDA.
        model = MODEL_REGISTRY.get(cfg.MODEL.MODEL_NAME)(cfg)
        out[key] = {
            **entry,
            "params": sum(p.numel() for p in model.parameters()),
            "state": [[k, list(v.shape)] for k, v in model.state_dict().items()],
        }
    return out


def _value(cfg, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def _runs(per_epoch: list[dict]) -> list[dict]:
    runs: list[dict] = []
    for epoch, values in enumerate(per_epoch):
        if runs and runs[-1]["values"] == values:
            runs[-1]["end"] = epoch + 1
        else:
            runs.append({"start": epoch, "end": epoch + 1, "values": values})
    return runs


def _schedule_case(root: str, config: str, overrides: list) -> dict:
    from slowfast.config.defaults import assert_and_infer_cfg
    from slowfast.utils.checkpoint import is_checkpoint_epoch
    from slowfast.utils.misc import is_eval_epoch
    from slowfast.utils.multigrid import MultigridSchedule

    case: dict = {"config": config, "overrides": overrides}
    try:
        cfg = assert_and_infer_cfg(_cfg(root, config, overrides))
        multigrid = MultigridSchedule()
        cfg = multigrid.init_multigrid(cfg)
        if cfg.MULTIGRID.LONG_CYCLE:
            cfg, _ = multigrid.update_long_cycle(cfg, cur_epoch=0)
        schedule = multigrid.schedule
        case.update(
            schedule=[[s[0], list(s[1]), s[2]] for s in schedule] if schedule else None,
            steps=list(cfg.SOLVER.STEPS),
            lrs=list(cfg.SOLVER.LRS),
            max_epoch=cfg.SOLVER.MAX_EPOCH,
            default_bts=[cfg.MULTIGRID.DEFAULT_B, cfg.MULTIGRID.DEFAULT_T, cfg.MULTIGRID.DEFAULT_S],
        )
        per_epoch, changed, evals, ckpts = [], [], [], []
        for epoch in range(cfg.SOLVER.MAX_EPOCH):
            if cfg.MULTIGRID.LONG_CYCLE:
                cfg, did_change = multigrid.update_long_cycle(cfg, epoch)
                if did_change:
                    changed.append(epoch)
            per_epoch.append({k: _value(cfg, k) for k in EPOCH_KEYS})
            if is_eval_epoch(cfg, epoch, schedule):
                evals.append(epoch)
            if is_checkpoint_epoch(cfg, epoch, schedule):
                ckpts.append(epoch)
        case.update(
            epochs=_runs(per_epoch),
            changed_epochs=changed,
            eval_epochs=evals,
            checkpoint_epochs=ckpts,
        )
    except Exception as err:  # recorded: the fixture holds PySlowFast's failures too
        frame = traceback.extract_tb(err.__traceback__)[-1]
        for key in ("schedule", "steps", "lrs", "max_epoch", "default_bts"):
            case.pop(key, None)
        case["error"] = {
            "type": type(err).__name__,
            "message": str(err),
            "function": frame.name,
            "line": (frame.line or "").strip(),
        }
    return case


def schedules(spec: dict) -> dict:
    import logging

    logging.disable(logging.CRITICAL)  # PySlowFast prints every schedule it builds
    return {
        key: _schedule_case(spec["root"], case["config"], case["overrides"])
        for key, case in spec["cases"].items()
    }


def main() -> None:
    import standins  # beside this script; then its folder leaves the path, so that no module
    # beside it shadows a top-level name PySlowFast imports

    sys.path.pop(0)
    standins.install()
    spec = json.loads(sys.argv[1])
    tasks = {"layouts": layouts, "outputs": outputs, "schedules": schedules}
    result = tasks[spec["task"]](spec)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
