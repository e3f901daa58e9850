import numpy as np
import pytest
import torch

from slowfast.utils.metrics import (
    average_precision,
    mean_average_precision,
    topk_accuracies,
    topk_errors,
    topks_correct,
)


def test_topk_counts_and_errors():
    preds = torch.tensor(
        [
            [0.1, 0.5, 0.2, 0.15, 0.05, 0.0],  # label 1: top-1 hit
            [0.3, 0.1, 0.2, 0.25, 0.05, 0.1],  # label 2: third best, top-5 hit
            [0.0, 0.1, 0.2, 0.3, 0.4, 0.5],  # label 0: last, miss
            [0.2, 0.1, 0.3, 0.0, 0.05, 0.35],  # label 5: top-1 hit
        ]
    )
    labels = torch.tensor([1, 2, 0, 5])
    assert [float(c) for c in topks_correct(preds, labels, [1, 3, 5])] == [2.0, 3.0, 3.0]
    assert [float(e) for e in topk_errors(preds, labels, [1, 5])] == [50.0, 25.0]
    assert [float(a) for a in topk_accuracies(preds, labels, [1, 5])] == [50.0, 75.0]
    with pytest.raises(ValueError, match="top-7 asked of predictions over 6 classes"):
        topks_correct(preds, labels, [7])
    with pytest.raises(ValueError, match="preds N x C and labels N"):
        topks_correct(preds, labels[:3], [1])


def test_mean_average_precision_hand_computed():
    preds = np.array(
        [
            [0.9, 0.1, 0.3, 0.5],
            [0.8, 0.8, 0.2, 0.5],
            [0.7, 0.2, 0.9, 0.5],
            [0.6, 0.4, 0.1, 0.1],
        ]
    )
    labels = np.array(
        [
            [1, 0, 0, 1],
            [0, 1, 0, 0],
            [1, 0, 0, 0],
            [0, 1, 0, 1],
        ]
    )
    # Class 0: hits at ranks 1 and 3 -> 0.5 * 1 + 0.5 * 2/3.
    assert average_precision(preds[:, 0], labels[:, 0]) == pytest.approx(5 / 6)
    # Class 1: hits at ranks 1 and 2 -> 1.
    assert average_precision(preds[:, 1], labels[:, 1]) == pytest.approx(1.0)
    # Class 3: three tied scores hold one of the two positives -> 0.5 * 1/3 + 0.5 * 2/4.
    assert average_precision(preds[:, 3], labels[:, 3]) == pytest.approx(5 / 12)
    # Class 2 has no positive and is left out of the mean.
    expected = (5 / 6 + 1.0 + 5 / 12) / 3
    assert mean_average_precision(preds, labels) == pytest.approx(expected)
    assert mean_average_precision(torch.tensor(preds), torch.tensor(labels)) == pytest.approx(
        expected
    )
    assert np.isnan(mean_average_precision(preds, np.zeros_like(labels)))


def test_average_precision_matches_rank_definition_without_ties():
    rng = np.random.default_rng(0)
    scores = rng.random(50)
    positives = (rng.random(50) < 0.3).astype(int)
    order = np.argsort(-scores)
    ranks = np.flatnonzero(positives[order]) + 1
    precisions = np.arange(1, len(ranks) + 1) / ranks
    assert average_precision(scores, positives) == pytest.approx(precisions.mean())
