"""Multi-view testing: TEST.NUM_ENSEMBLE_VIEWS x TEST.NUM_SPATIAL_CROPS clips per video, scores
combined per video, video-level top-1/top-5 error or mAP.
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch
from fvcore.common.config import CfgNode

from slowfast.datasets.loader import construct_loader
from slowfast.engine.config_check import check_cfg
from slowfast.engine.trainer import move_to_device
from slowfast.models import build_model
from slowfast.utils import distributed as du
from slowfast.utils.checkpoint import load_test_checkpoint
from slowfast.utils.logging import get_logger, log_json_stats
from slowfast.utils.meters import TestMeter
from slowfast.utils.precision import model_memory_format

logger = get_logger(__name__)


@torch.no_grad()
def test(cfg: CfgNode) -> dict[str, Any]:
    """Test the model on the "test" split with multi-view ensembling; returns the metrics.

    A cfg that was not validated at an entry point (not frozen) is validated on a copy first."""
    if not cfg.is_frozen():
        cfg = check_cfg(cfg.clone())
    device = du.get_device(cfg)
    model = build_model(cfg).to(device, memory_format=model_memory_format(cfg, device))
    path = load_test_checkpoint(cfg, model)
    if path:
        logger.info("testing weights from %s", path)
    model.eval()
    loader = construct_loader(cfg, "test")
    dataset = loader.dataset
    num_clips = cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
    meter = TestMeter(
        dataset.num_videos,
        num_clips,
        cfg.MODEL.NUM_CLASSES,
        ensemble_method=cfg.TEST.ENSEMBLE_METHOD,
        multi_label=bool(cfg.DATA.MULTI_LABEL),
    )
    t0 = time.perf_counter()
    preds_all, labels_all, index_all, failed = [], [], [], []
    for inputs, labels, index, meta in loader:
        preds = model(move_to_device(inputs, device)).float().cpu()
        preds_all.append(preds)
        labels_all.append(labels.cpu())
        index_all.append(index.cpu())
        if isinstance(meta, dict) and "failed" in meta:
            failed.extend(int(v) for v, bad in zip(meta["video_idx"], meta["failed"]) if bad)
    preds = torch.cat(preds_all)
    labels = torch.cat(labels_all)
    index = torch.cat(index_all)
    if du.get_world_size() > 1:
        preds, labels, index = du.all_gather_tensors([preds, labels, index])
        failed = [v for part in du.all_gather_objects(failed) for v in part]
    meter.update_stats(preds, labels, index)
    if failed:
        meter.exclude_videos(sorted(set(failed)))
    metrics = meter.finalize_metrics()
    out = {"_type": "test_final", "num_videos": dataset.num_videos, "views": num_clips,
           "test_time_s": time.perf_counter() - t0}
    out.update(metrics)
    log_json_stats(out, logger)
    if cfg.TEST.SAVE_RESULTS_PATH and du.is_master_proc():
        path = cfg.TEST.SAVE_RESULTS_PATH
        if not os.path.isabs(path):
            path = os.path.join(cfg.OUTPUT_DIR, path)
        meter.save_results(path)
        logger.info("per-video scores written to %s", path)
    return out
