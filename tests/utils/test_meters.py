import pytest
import torch

from slowfast.utils.meters import TestMeter, memory_mb


def _clip_scores(num_videos=2, num_clips=3, num_classes=4):
    torch.manual_seed(0)
    return torch.randn(num_videos * num_clips, num_classes)


def test_test_meter_sum_and_max_ensembles_with_shuffled_batches():
    scores = _clip_scores()
    labels = torch.tensor([2, 2, 2, 0, 0, 0])
    order = [4, 0, 5, 2, 1, 3]
    for method, combine in (("sum", lambda s: s.sum(0)), ("max", lambda s: s.max(0).values)):
        meter = TestMeter(2, 3, 4, ensemble_method=method)
        for batch in (order[:4], order[4:]):
            meter.update_stats(scores[batch], labels[batch], torch.tensor(batch))
        expected = torch.stack([combine(scores[:3]), combine(scores[3:])])
        assert torch.allclose(meter.video_preds, expected)
        top1_hits = (expected.argmax(1) == torch.tensor([2, 0])).sum().item()
        stats = meter.finalize_metrics()
        assert stats["top1_acc"] == pytest.approx(top1_hits * 50.0)
        assert stats["top1_err"] == pytest.approx(100 - top1_hits * 50.0)
        assert stats["top5_err"] == 0.0  # k clipped to the 4 classes
        assert stats["num_videos"] == 2 and stats["num_failed"] == 0


def test_duplicate_clips_count_once():
    scores = _clip_scores()
    labels = torch.zeros(6, dtype=torch.long)
    meter = TestMeter(2, 3, 4)
    meter.update_stats(scores[[0, 1, 2, 3]], labels[:4], torch.tensor([0, 1, 2, 3]))
    # A padded last batch gathered from two processes repeats clips 0 and 5.
    meter.update_stats(scores[[4, 5, 5, 0]], labels[:4], torch.tensor([4, 5, 5, 0]))
    assert torch.allclose(meter.video_preds[0], scores[:3].sum(0))
    assert torch.allclose(meter.video_preds[1], scores[3:].sum(0))
    assert meter.clip_count.tolist() == [3, 3]
    assert meter.finalize_metrics()["num_duplicates"] == 2


def test_incomplete_views_error_and_failed_videos():
    scores = _clip_scores(num_videos=4)
    labels = torch.tensor([1] * 12)
    meter = TestMeter(4, 3, 4)
    # Video 2 gets 1 of its 3 views, video 3 none.
    meter.update_stats(scores[:7], labels[:7], torch.arange(7))
    with pytest.raises(RuntimeError) as err:
        meter.finalize_metrics()
    assert "2 of 4 test videos did not receive all 3 views" in str(err.value)
    assert "video 2 (1/3 views), video 3 (0/3 views)" in str(err.value)
    meter.exclude_videos(torch.tensor([2, 3]))
    stats = meter.finalize_metrics()
    assert stats["num_videos"] == 2 and stats["num_failed"] == 2
    with pytest.raises(IndexError, match="clip index 12 out of range for 4 videos x 3 clips"):
        meter.update_stats(scores[:1], labels[:1], torch.tensor([12]))
    with pytest.raises(IndexError, match="video index 4 out of range for 4"):
        meter.exclude_videos([4])


def test_inconsistent_labels_are_an_error():
    meter = TestMeter(1, 2, 3)
    meter.update_stats(torch.zeros(1, 3), torch.tensor([0]), torch.tensor([0]))
    with pytest.raises(ValueError, match="different labels"):
        meter.update_stats(torch.zeros(1, 3), torch.tensor([1]), torch.tensor([1]))


def test_multi_label_map_and_save_results(tmp_path):
    meter = TestMeter(3, 2, 2, ensemble_method="max", multi_label=True)
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.3], [0.1, 0.8], [0.4, 0.2], [0.5, 0.6], [0.7, 0.1]])
    meter.update_stats(scores, labels, torch.arange(6))
    # Video scores (max): [0.9, 0.3], [0.4, 0.8], [0.7, 0.6]. Class 0 positives: videos 0, 2
    # ranked 1st and 2nd -> AP 1. Class 1 positives: videos 1, 2 ranked 1st and 2nd -> AP 1.
    assert meter.finalize_metrics()["map"] == pytest.approx(1.0)
    meter.exclude_videos([0])
    path = meter.save_results(str(tmp_path / "out" / "results.pyth"))
    saved = torch.load(path, weights_only=True)
    assert saved["video_idx"].tolist() == [1, 2]
    assert saved["failed_video_idx"].tolist() == [0]
    assert torch.allclose(saved["preds"], torch.tensor([[0.4, 0.8], [0.7, 0.6]]))
    assert torch.equal(saved["labels"], torch.tensor([[0.0, 1.0], [1.0, 1.0]]))


def test_memory_is_positive():
    assert 1 < memory_mb() < 1024**2
