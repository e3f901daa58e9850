"""The multi-view test meter and the memory probe the trainer logs.

Meters never print: ``finalize_metrics`` returns a dict following the json_stats schema in
docs/TRAINING.md. Errors are percentages; ``map`` is a fraction.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Sequence
from typing import Any

import torch

from slowfast.utils import metrics


def memory_mb() -> float:
    """Peak CUDA memory allocated by this process (MiB) on a GPU, else its resident set size."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda.max_memory_allocated() / 1024**2
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1024**2
    except (OSError, ValueError, IndexError):
        # ru_maxrss is in kilobytes on Linux: the peak, the best we have without /proc.
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TestMeter:
    """Multi-view test: combine each video's ``num_clips`` view scores and score the videos.

    Clip index ``i`` (what the test dataset returns as the sample index) is view ``i %
    num_clips`` of video ``i // num_clips``. A clip index seen a second time is ignored: a
    distributed sampler pads the last batch by repeating samples, and after gathering over
    processes those repeats must not be counted twice. Videos that failed to load
    (:meth:`exclude_videos`) are left out of the metrics and counted in ``num_failed``.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        num_videos: int,
        num_clips: int,
        num_classes: int,
        ensemble_method: str = "sum",
        multi_label: bool = False,
    ) -> None:
        if ensemble_method not in ("sum", "max"):
            raise ValueError(f"ensemble_method must be 'sum' or 'max', got {ensemble_method!r}")
        if min(num_videos, num_clips, num_classes) < 1:
            raise ValueError(
                f"TestMeter needs positive sizes, got num_videos={num_videos}, "
                f"num_clips={num_clips}, num_classes={num_classes}"
            )
        self.num_videos = num_videos
        self.num_clips = num_clips
        self.num_classes = num_classes
        self.ensemble_method = ensemble_method
        self.multi_label = multi_label
        self.reset()

    def reset(self) -> None:
        fill = 0.0 if self.ensemble_method == "sum" else float("-inf")
        self.video_preds = torch.full((self.num_videos, self.num_classes), fill)
        if self.multi_label:
            self.video_labels = torch.zeros((self.num_videos, self.num_classes))
        else:
            self.video_labels = torch.full((self.num_videos,), -1, dtype=torch.long)
        self.clip_count = torch.zeros(self.num_videos, dtype=torch.long)
        self.clip_seen = torch.zeros(self.num_videos * self.num_clips, dtype=torch.bool)
        self.failed = torch.zeros(self.num_videos, dtype=torch.bool)
        self.num_duplicates = 0

    def _clip_ids(self, clip_ids: torch.Tensor | Sequence[int]) -> torch.Tensor:
        ids = torch.as_tensor(clip_ids).detach().cpu().long().view(-1)
        total = self.num_videos * self.num_clips
        bad = (ids < 0) | (ids >= total)
        if bad.any():
            raise IndexError(
                f"clip index {int(ids[bad][0])} out of range for {self.num_videos} videos x "
                f"{self.num_clips} clips"
            )
        return ids

    def update_stats(
        self, preds: torch.Tensor, labels: torch.Tensor, clip_ids: torch.Tensor | Sequence[int]
    ) -> None:
        """Add one batch of clip scores (N x num_classes), labels and clip indices."""
        preds = preds.detach().float().cpu()
        labels = labels.detach().cpu()
        ids = self._clip_ids(clip_ids)
        if preds.shape != (ids.numel(), self.num_classes) or labels.shape[0] != ids.numel():
            raise ValueError(
                f"TestMeter.update_stats: preds {tuple(preds.shape)}, labels "
                f"{tuple(labels.shape)} and {ids.numel()} clip ids do not match "
                f"N x {self.num_classes}"
            )
        # First occurrence of each clip id in this batch, then drop ids seen in earlier batches.
        uniq, inverse = torch.unique(ids, return_inverse=True)
        first = torch.full((uniq.numel(),), ids.numel(), dtype=torch.long)
        first.scatter_reduce_(0, inverse, torch.arange(ids.numel()), reduce="amin")
        rows = first[~self.clip_seen[uniq]].sort().values
        self.num_duplicates += ids.numel() - rows.numel()
        if rows.numel() == 0:
            return
        ids, preds, labels = ids[rows], preds[rows], labels[rows]
        videos = ids // self.num_clips
        self.clip_seen[ids] = True

        labels = labels.float() if self.multi_label else labels.long()
        known = self.clip_count[videos] > 0
        consistent = self.video_labels[videos[known]] == labels[known]
        self.video_labels[videos] = labels
        consistent = consistent.all() and (self.video_labels[videos] == labels).all()
        if not consistent:
            raise ValueError(
                "TestMeter.update_stats: clips of one video carry different labels (videos "
                f"{sorted(set(videos.tolist()))[:5]})"
            )
        self.clip_count.index_add_(0, videos, torch.ones_like(videos))
        if self.ensemble_method == "sum":
            self.video_preds.index_add_(0, videos, preds)
        else:
            index = videos.view(-1, 1).expand_as(preds)
            self.video_preds.scatter_reduce_(0, index, preds, reduce="amax")

    def exclude_videos(self, video_ids: torch.Tensor | Sequence[int]) -> None:
        """Leave these videos (indices ``clip_index // num_clips``) out of the metrics: they
        failed to load."""
        ids = torch.as_tensor(video_ids, dtype=torch.long).view(-1)
        bad = (ids < 0) | (ids >= self.num_videos)
        if bad.any():
            raise IndexError(f"video index {int(ids[bad][0])} out of range for {self.num_videos}")
        self.failed[ids] = True

    def _included(self) -> torch.Tensor:
        keep = ~self.failed
        incomplete = (keep & (self.clip_count != self.num_clips)).nonzero().view(-1)
        if incomplete.numel():
            examples = ", ".join(
                f"video {int(v)} ({int(self.clip_count[v])}/{self.num_clips} views)"
                for v in incomplete[:5]
            )
            raise RuntimeError(
                f"{incomplete.numel()} of {self.num_videos} test videos did not receive all "
                f"{self.num_clips} views, e.g. {examples}"
            )
        if not keep.any():
            raise RuntimeError(f"all {self.num_videos} test videos failed to load")
        return keep

    def finalize_metrics(self, ks: Sequence[int] = (1, 5)) -> dict[str, Any]:
        """Video-level metrics; raises if a video that did not fail lacks some of its views."""
        keep = self._included()
        preds, labels = self.video_preds[keep], self.video_labels[keep]
        stats: dict[str, Any] = {
            "_type": "test_final",
            "num_videos": int(keep.sum()),
            "num_failed": int(self.failed.sum()),
            "num_views": self.num_clips,
            "num_duplicates": self.num_duplicates,
        }
        if self.multi_label:
            stats["map"] = metrics.mean_average_precision(preds, labels)
        else:
            clipped = [min(k, self.num_classes) for k in ks]
            for k, correct in zip(ks, metrics.topks_correct(preds, labels, clipped)):
                acc = float(correct) / preds.shape[0] * 100.0
                stats[f"top{k}_acc"] = acc
                stats[f"top{k}_err"] = 100.0 - acc
        return stats

    def save_results(self, path: str) -> str:
        """Write per-video scores and labels with ``torch.save`` (``weights_only``-loadable).

        The file holds a dict: ``preds`` (V x C float), ``labels`` (V long, or V x C float for
        multi-label), ``video_idx`` (V long: which videos the rows are) and
        ``failed_video_idx``; failed videos are left out.
        """
        keep = self._included()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        torch.save(
            {
                "preds": self.video_preds[keep].clone(),
                "labels": self.video_labels[keep].clone(),
                "video_idx": keep.nonzero().view(-1),
                "failed_video_idx": self.failed.nonzero().view(-1),
            },
            path,
        )
        return path
