"""One evaluation loop (:func:`run_evaluation`) on evaluator objects (reset / process /
evaluate), serving the per-epoch validation (clip level: :class:`TopKEvaluator`,
:class:`MeanAPEvaluator`) and the final multi-view test (video level:
:class:`MultiViewEvaluator`).

With several processes an evaluator gathers what every process saw when it evaluates, and
drops the samples a distributed sampler repeated to pad its last batch
(:func:`drop_repeats`, the one place that does it), so every process returns the same metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from slowfast.engine.train_loop import move_to_device
from slowfast.utils import distributed as du
from slowfast.utils.meters import TestMeter
from slowfast.utils.metrics import mean_average_precision, topk_errors


class DatasetEvaluator:
    """Accumulates model outputs over a loader; :meth:`evaluate` returns a dict of metrics."""

    def reset(self) -> None:
        """Forget everything processed: called before each pass."""
        raise NotImplementedError

    def process(
        self, preds: torch.Tensor, labels: torch.Tensor, index: torch.Tensor, meta: Any
    ) -> None:
        """Take one batch: predictions (N x classes), labels, sample indices and meta."""
        raise NotImplementedError

    def evaluate(self) -> dict[str, Any]:
        """The metrics of everything processed since :meth:`reset` (collective)."""
        raise NotImplementedError


def drop_repeats(index: torch.Tensor) -> torch.Tensor:
    """Positions of the first occurrence of each sample index, in order: a distributed sampler
    pads the last batch by repeating samples, and those repeats must count once."""
    _, first = np.unique(index.numpy(), return_index=True)
    return torch.as_tensor(np.sort(first), dtype=torch.long)


class GatheringEvaluator(DatasetEvaluator):
    """Keeps predictions, labels and indices on the CPU; :meth:`gathered` returns those of all
    processes with the sampler's repeats removed, and how many repeats there were."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._preds: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self._index: list[torch.Tensor] = []

    def process(self, preds, labels, index, meta) -> None:
        self._preds.append(preds.detach().float().cpu())
        self._labels.append(labels.detach().cpu())
        self._index.append(index.detach().cpu().long())

    def gathered(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """(preds, labels, index, number of repeated samples dropped) over all processes."""
        preds = torch.cat(self._preds) if self._preds else torch.zeros(0)
        labels = torch.cat(self._labels) if self._labels else torch.zeros(0)
        index = torch.cat(self._index) if self._index else torch.zeros(0, dtype=torch.long)
        if du.get_world_size() > 1:
            preds, labels, index = du.all_gather_tensors([preds, labels, index])
        keep = drop_repeats(index)
        repeats = index.numel() - keep.numel()
        return preds[keep], labels[keep], index[keep], repeats


class TopKEvaluator(GatheringEvaluator):
    """Clip-level top-1 and top-5 error (%) of single-label predictions."""

    def evaluate(self) -> dict[str, Any]:
        preds, labels, _, _ = self.gathered()
        if preds.numel() == 0:
            return {}
        top1, top5 = topk_errors(preds, labels, (1, min(5, preds.shape[1])))
        return {"top1_err": float(top1), "top5_err": float(top5), "num_clips": len(labels)}


class MeanAPEvaluator(GatheringEvaluator):
    """Clip-level mean average precision (a fraction) of multi-label predictions."""

    def evaluate(self) -> dict[str, Any]:
        preds, labels, _, _ = self.gathered()
        if preds.numel() == 0:
            return {}
        return {"map": float(mean_average_precision(preds.numpy(), labels.numpy()))}


def build_clip_evaluator(multi_label: bool) -> GatheringEvaluator:
    """The validation evaluator: mAP for multi-label data, else top-k errors."""
    return MeanAPEvaluator() if multi_label else TopKEvaluator()


class MultiViewEvaluator(GatheringEvaluator):
    """Video-level metrics of a multi-view test: clip ``i`` is view ``i % num_clips`` of video
    ``i // num_clips``; each video's view scores are combined (``ensemble_method`` "sum" or
    "max") by the given :class:`~slowfast.utils.meters.TestMeter`, and videos a loader reported as
    failed (``meta["failed"]``) are left out. :attr:`meter` holds the per-video scores after
    :meth:`evaluate` (``meter.save_results``)."""

    def __init__(self, meter: TestMeter) -> None:
        self.meter = meter
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self.meter.reset()
        self._failed: list[int] = []

    def process(self, preds, labels, index, meta) -> None:
        super().process(preds, labels, index, meta)
        if isinstance(meta, dict) and "failed" in meta:
            self._failed.extend(int(v) for v, bad in zip(meta["video_idx"], meta["failed"]) if bad)

    def evaluate(self) -> dict[str, Any]:
        preds, labels, index, repeats = self.gathered()
        failed = [v for part in du.all_gather_objects(self._failed) for v in part]
        self.meter.update_stats(preds, labels, index)
        self.meter.num_duplicates += repeats
        if failed:
            self.meter.exclude_videos(sorted(set(failed)))
        return self.meter.finalize_metrics()


@torch.no_grad()
def run_evaluation(
    model: torch.nn.Module, loader: Any, evaluator: DatasetEvaluator, device: torch.device
) -> dict[str, Any]:
    """Run ``model`` in eval mode over ``loader``, feed ``evaluator`` and return its metrics;
    the model's mode is restored afterwards."""
    was_training = model.training
    model.eval()
    evaluator.reset()
    try:
        for inputs, labels, index, meta in loader:
            preds = model(move_to_device(inputs, device))
            evaluator.process(preds, labels, index, meta)
    finally:
        model.train(was_training)
    return evaluator.evaluate()
