"""Classification metrics: top-k counts and errors (single-label), mean average precision
(multi-label). Errors and accuracies are percentages, as in PySlowFast."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def topks_correct(
    preds: torch.Tensor, labels: torch.Tensor, ks: Sequence[int]
) -> list[torch.Tensor]:
    """For each k, how many rows of ``preds`` (N x C) have ``labels`` (N) among their top k."""
    if preds.ndim != 2 or labels.ndim != 1 or preds.shape[0] != labels.shape[0]:
        raise ValueError(
            f"topks_correct expects preds N x C and labels N, got {tuple(preds.shape)} and "
            f"{tuple(labels.shape)}"
        )
    if max(ks) > preds.shape[1]:
        raise ValueError(f"top-{max(ks)} asked of predictions over {preds.shape[1]} classes")
    top = preds.topk(max(ks), dim=1, largest=True, sorted=True).indices
    hits = top.eq(labels.to(top.device).view(-1, 1))
    return [hits[:, :k].float().sum() for k in ks]


def topk_errors(preds: torch.Tensor, labels: torch.Tensor, ks: Sequence[int]) -> list[torch.Tensor]:
    """Top-k error (%) for each k."""
    return [(1.0 - c / preds.shape[0]) * 100.0 for c in topks_correct(preds, labels, ks)]


def topk_accuracies(
    preds: torch.Tensor, labels: torch.Tensor, ks: Sequence[int]
) -> list[torch.Tensor]:
    """Top-k accuracy (%) for each k."""
    return [c / preds.shape[0] * 100.0 for c in topks_correct(preds, labels, ks)]


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """Average precision of one class: sum over score thresholds of (recall step) x precision.

    Tied scores form one threshold, as in scikit-learn's ``average_precision_score``.
    ``positives`` is 0/1 and must contain at least one 1.
    """
    order = np.argsort(-scores, kind="mergesort")
    scores = scores[order]
    positives = positives[order].astype(np.float64)
    true_pos = np.cumsum(positives)
    false_pos = np.cumsum(1.0 - positives)
    # The last position of each run of equal scores is where that threshold's counts are.
    cut = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    true_pos, false_pos = true_pos[cut], false_pos[cut]
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / true_pos[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def _numpy(array: np.ndarray | torch.Tensor) -> np.ndarray:
    return array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)


def mean_average_precision(
    preds: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor
) -> float:
    """Mean over classes of the average precision of ``preds`` (N x C) against 0/1 ``labels``.

    Classes with no positive video are left out (PySlowFast's ``get_map``); when no class has
    one the result is NaN.
    """
    preds, labels = _numpy(preds), _numpy(labels)
    if preds.ndim != 2 or preds.shape != labels.shape:
        raise ValueError(
            f"mean_average_precision expects preds and labels of one N x C shape, got "
            f"{preds.shape} and {labels.shape}"
        )
    labels = labels > 0.5
    aps = [
        average_precision(preds[:, c].astype(np.float64), labels[:, c])
        for c in range(labels.shape[1])
        if labels[:, c].any()
    ]
    return float(np.mean(aps)) if aps else float("nan")
