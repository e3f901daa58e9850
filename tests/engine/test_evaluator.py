"""The evaluators behind validation and the multi-view test: the sampler's padding repeats are
dropped in one place, the metrics are those of the metric functions and of the TestMeter, and
the one evaluation loop restores the model's mode."""

import pytest
import torch
from torch import nn

from slowfast.engine.evaluator import (
    MeanAPEvaluator,
    MultiViewEvaluator,
    TopKEvaluator,
    build_clip_evaluator,
    drop_repeats,
    run_evaluation,
)
from slowfast.utils.meters import TestMeter
from slowfast.utils.metrics import mean_average_precision, topk_errors


def test_drop_repeats_keeps_first_occurrences_in_order():
    index = torch.tensor([4, 1, 3, 1, 0, 4, 2])
    assert drop_repeats(index).tolist() == [0, 1, 2, 4, 6]


def _batches(preds, labels, index, size=3):
    for i in range(0, len(index), size):
        yield preds[i : i + size], labels[i : i + size], index[i : i + size], {}


def test_topk_evaluator_counts_padded_samples_once():
    g = torch.Generator().manual_seed(0)
    preds, labels = torch.randn(10, 6, generator=g), torch.randint(0, 6, (10,), generator=g)
    index = torch.arange(10)
    evaluator = build_clip_evaluator(multi_label=False)
    assert isinstance(evaluator, TopKEvaluator)
    evaluator.reset()
    # A padded pass: the first two samples come again at the end.
    padded = (
        torch.cat([preds, preds[:2]]),
        torch.cat([labels, labels[:2]]),
        torch.cat([index, index[:2]]),
    )
    for batch in _batches(*padded):
        evaluator.process(*batch)
    top1, top5 = topk_errors(preds, labels, (1, 5))
    assert evaluator.evaluate() == {
        "top1_err": float(top1),
        "top5_err": float(top5),
        "num_clips": 10,
    }


def test_mean_ap_evaluator():
    g = torch.Generator().manual_seed(1)
    preds = torch.rand(12, 4, generator=g)
    labels = (torch.rand(12, 4, generator=g) > 0.5).float()
    labels[0] = 1.0  # every class has a positive
    evaluator = build_clip_evaluator(multi_label=True)
    assert isinstance(evaluator, MeanAPEvaluator)
    for batch in _batches(preds, labels, torch.arange(12)):
        evaluator.process(*batch)
    expected = mean_average_precision(preds.numpy(), labels.numpy())
    assert evaluator.evaluate()["map"] == pytest.approx(float(expected))


@pytest.mark.parametrize("method", ["sum", "max"])
def test_multi_view_evaluator_matches_the_test_meter(method):
    videos, views, classes = 5, 3, 4
    g = torch.Generator().manual_seed(2)
    clips = videos * views
    preds = torch.randn(clips, classes, generator=g)
    video_labels = torch.randint(0, classes, (videos,), generator=g)
    labels = video_labels.repeat_interleave(views)
    order = torch.randperm(clips, generator=g)
    # Shuffled clips, two of them repeated as a sampler's padding; video 4 failed to load.
    index = torch.cat([order, order[:2]])
    evaluator = MultiViewEvaluator(TestMeter(videos, views, classes, ensemble_method=method))
    for i in range(0, len(index), 4):
        ids = index[i : i + 4]
        meta = {"video_idx": ids // views, "failed": (ids // views) == 4}
        evaluator.process(preds[ids], labels[ids], ids, meta)
    stats = evaluator.evaluate()
    meter = TestMeter(videos, views, classes, ensemble_method=method)
    meter.update_stats(preds[index], labels[index], index)
    meter.exclude_videos([4])
    assert stats == meter.finalize_metrics()
    assert stats["num_duplicates"] == 2 and stats["num_failed"] == 1
    assert stats["num_videos"] == 4
    assert torch.equal(evaluator.meter.video_preds, meter.video_preds)
    # reset() starts a new pass.
    evaluator.reset()
    assert evaluator.meter.clip_count.sum() == 0


def test_run_evaluation_restores_the_mode_and_needs_no_grad():
    model = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5))
    model.train()
    seen = []

    class Spy(TopKEvaluator):
        def process(self, preds, labels, index, meta):
            seen.append((model.training, preds.requires_grad))
            super().process(preds, labels, index, meta)

    loader = [
        (torch.randn(4, 3), torch.tensor([0, 1, 0, 1]), torch.arange(4) + 4 * i, {})
        for i in range(2)
    ]
    metrics = run_evaluation(model, loader, Spy(), torch.device("cpu"))
    assert seen == [(False, False), (False, False)]
    assert model.training and metrics["num_clips"] == 8
