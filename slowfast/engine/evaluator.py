"""Evaluators (reset / process / evaluate), shared by validation during training and the final
multi-view test, and the loop that feeds them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from slowfast.utils import distributed as du
from slowfast.utils.metrics import mean_average_precision, topk_errors


class DatasetEvaluator:
    """Accumulates model outputs over a loader; :meth:`evaluate` returns a dict of metrics."""

    def reset(self) -> None:
        raise NotImplementedError

    def process(self, preds: torch.Tensor, labels: torch.Tensor, index: torch.Tensor, meta: Any) -> None:
        raise NotImplementedError

    def evaluate(self) -> dict[str, float]:
        raise NotImplementedError


class ClipEvaluator(DatasetEvaluator):
    """Clip-level metrics: top-1/top-5 error (%), or mAP for multi-label data."""

    def __init__(self, multi_label: bool):
        self.multi_label = multi_label
        self.reset()

    def reset(self) -> None:
        self._preds: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self._index: list[torch.Tensor] = []

    def process(self, preds, labels, index, meta) -> None:
        self._preds.append(preds.detach().float().cpu())
        self._labels.append(labels.detach().cpu())
        self._index.append(index.detach().cpu())

    def evaluate(self) -> dict[str, float]:
        preds = torch.cat(self._preds) if self._preds else torch.zeros(0)
        labels = torch.cat(self._labels) if self._labels else torch.zeros(0)
        index = torch.cat(self._index) if self._index else torch.zeros(0, dtype=torch.long)
        if du.get_world_size() > 1:
            preds, labels, index = du.all_gather_tensors([preds, labels, index])
            # DistributedSampler pads with repeated samples: keep one copy of each index.
            keep = _first_occurrence(index)
            preds, labels = preds[keep], labels[keep]
        if preds.numel() == 0:
            return {}
        if self.multi_label:
            return {"map": float(mean_average_precision(preds.numpy(), labels.numpy()))}
        k5 = min(5, preds.shape[1])
        top1, top5 = topk_errors(preds, labels, (1, k5))
        return {"top1_err": float(top1), "top5_err": float(top5), "num_clips": int(len(labels))}


def _first_occurrence(index: torch.Tensor) -> torch.Tensor:
    _, first = np.unique(index.numpy(), return_index=True)
    return torch.as_tensor(np.sort(first))


@torch.no_grad()
def run_evaluation(model: torch.nn.Module, loader, evaluator: DatasetEvaluator, device) -> dict[str, float]:
    """Run ``model`` in eval mode over ``loader`` and return the evaluator's metrics."""
    from slowfast.engine.trainer import move_to_device

    was_training = model.training
    model.eval()
    evaluator.reset()
    for inputs, labels, index, meta in loader:
        preds = model(move_to_device(inputs, device))
        evaluator.process(preds, labels, index, meta)
    model.train(was_training)
    return evaluator.evaluate()
