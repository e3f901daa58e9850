"""Meters: accumulate training, validation and multi-view test statistics.

Meters never print. ``iter_stats`` / ``epoch_stats`` / ``finalize_metrics`` return dicts whose
keys follow the json_stats schema in docs/ENGINE_NOTES.md; the trainer passes them to
:func:`slowfast.utils.logging.log_json_stats`. Errors are percentages; ``map`` is a fraction.
"""

from __future__ import annotations

import os
import resource
import time
from collections import deque
from typing import Any, Sequence

import numpy as np
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


class ScalarMeter:
    """A series of numbers: the median / mean of the last ``window`` values, and their count."""

    def __init__(self, window: int) -> None:
        self.window: deque[float] = deque(maxlen=window)
        self.count = 0

    def reset(self) -> None:
        self.window.clear()
        self.count = 0

    def add(self, value: float) -> None:
        self.window.append(float(value))
        self.count += 1

    def median(self) -> float:
        return float(np.median(self.window)) if self.window else float("nan")

    def mean(self) -> float:
        return float(np.mean(self.window)) if self.window else float("nan")


class _IterTimer:
    """Times each iteration, split into waiting for data and computing."""

    def __init__(self, window: int) -> None:
        self.iter_time = ScalarMeter(window)
        self.data_time = ScalarMeter(window)
        self.net_time = ScalarMeter(window)
        self._start = self._data_end = None

    def reset(self) -> None:
        for meter in (self.iter_time, self.data_time, self.net_time):
            meter.reset()
        self._start = self._data_end = None

    def iter_tic(self) -> None:
        """Call before fetching the batch."""
        self._start = self._data_end = time.perf_counter()

    def data_toc(self) -> None:
        """Call once the batch is on the device."""
        self._data_end = time.perf_counter()

    def iter_toc(self) -> None:
        """Call after the step (and any synchronisation)."""
        if self._start is None:
            raise RuntimeError("iter_toc() called without iter_tic()")
        end = time.perf_counter()
        self.iter_time.add(end - self._start)
        self.data_time.add(self._data_end - self._start)
        self.net_time.add(end - self._data_end)

    def timing_stats(self) -> dict[str, float]:
        """Window medians (seconds per iteration): whole step, waiting for data, computing."""
        return {
            "iter_time_s": self.iter_time.median(),
            "data_time_s": self.data_time.median(),
            "compute_time_s": self.net_time.median(),
        }


class TrainMeter(_IterTimer):
    """Training loss, learning rate, minibatch errors, timing and ETA.

    ``epoch_iters`` may be reassigned when the loader changes length (multigrid); the ETA then
    assumes the remaining epochs have the new length. ``start_time`` (``time.time()``) anchors
    ``elapsed_s``; pass the job's start (minus time spent before a resume) to keep runs
    comparable.
    """

    def __init__(
        self, epoch_iters: int, max_epoch: int, window: int = 20, start_time: float | None = None
    ) -> None:
        super().__init__(window)
        self.epoch_iters = epoch_iters
        self.max_epoch = max_epoch
        self.start_time = time.time() if start_time is None else start_time
        self.loss = ScalarMeter(window)
        self.top1_err = ScalarMeter(window)
        self.top5_err = ScalarMeter(window)
        self.reset()

    def reset(self) -> None:
        """Start a new epoch."""
        super().reset()
        self.loss.reset()
        self.top1_err.reset()
        self.top5_err.reset()
        self.lr: float | None = None
        self.grad_norm: float | None = None
        self.loss_total = 0.0
        self.num_top1_mis = 0.0
        self.num_top5_mis = 0.0
        self.num_samples = 0
        self.num_err_samples = 0

    def update_stats(
        self,
        loss: float,
        lr: float,
        mb_size: int,
        top1_err: float | None = None,
        top5_err: float | None = None,
        grad_norm: float | None = None,
    ) -> None:
        """Record one iteration (errors in percent; leave them None for multi-label)."""
        self.loss.add(loss)
        self.lr = float(lr)
        self.grad_norm = None if grad_norm is None else float(grad_norm)
        self.loss_total += float(loss) * mb_size
        self.num_samples += mb_size
        if top1_err is not None and top5_err is not None:
            self.top1_err.add(top1_err)
            self.top5_err.add(top5_err)
            self.num_top1_mis += float(top1_err) * mb_size
            self.num_top5_mis += float(top5_err) * mb_size
            self.num_err_samples += mb_size

    def _common(self, cur_epoch: int, done_iters: int) -> dict[str, Any]:
        remaining = self.max_epoch * self.epoch_iters - done_iters
        stats: dict[str, Any] = {
            "epoch": cur_epoch + 1,
            "max_epoch": self.max_epoch,
            "lr": self.lr,
            **self.timing_stats(),
            "eta_s": self.iter_time.mean() * remaining if self.iter_time.count else None,
            "mem_mb": memory_mb(),
            "elapsed_s": time.time() - self.start_time,
        }
        if self.grad_norm is not None:
            stats["grad_norm"] = self.grad_norm
        return stats

    def iter_stats(self, cur_epoch: int, cur_iter: int) -> dict[str, Any]:
        """Stats of iteration ``cur_iter`` (0-based) of epoch ``cur_epoch`` (0-based): window
        medians of the loss and errors."""
        stats = {
            "_type": "train_iter",
            **self._common(cur_epoch, cur_epoch * self.epoch_iters + cur_iter + 1),
            "iter": cur_iter + 1,
            "iters": self.epoch_iters,
            "loss": self.loss.median(),
        }
        if self.top1_err.count:
            stats["top1_err"] = self.top1_err.median()
            stats["top5_err"] = self.top5_err.median()
        return stats

    def epoch_stats(self, cur_epoch: int) -> dict[str, Any]:
        """Stats of the whole epoch ``cur_epoch`` (0-based): sample-weighted means."""
        stats = {
            "_type": "train_epoch",
            **self._common(cur_epoch, (cur_epoch + 1) * self.epoch_iters),
            "loss": self.loss_total / self.num_samples if self.num_samples else None,
        }
        if self.num_err_samples:
            stats["top1_err"] = self.num_top1_mis / self.num_err_samples
            stats["top5_err"] = self.num_top5_mis / self.num_err_samples
        return stats


class ValMeter(_IterTimer):
    """Validation errors (single-label) or mAP (multi-label) over one pass of the val set.

    The best errors seen so far survive :meth:`reset`, which starts a new pass.
    """

    def __init__(
        self,
        max_iter: int,
        max_epoch: int,
        multi_label: bool = False,
        window: int = 20,
        start_time: float | None = None,
    ) -> None:
        super().__init__(window)
        self.max_iter = max_iter
        self.max_epoch = max_epoch
        self.multi_label = multi_label
        self.start_time = time.time() if start_time is None else start_time
        self.top1_err = ScalarMeter(window)
        self.top5_err = ScalarMeter(window)
        self.min_top1_err = 100.0
        self.min_top5_err = 100.0
        self.max_map = 0.0
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.top1_err.reset()
        self.top5_err.reset()
        self.num_top1_mis = 0.0
        self.num_top5_mis = 0.0
        self.num_samples = 0
        self.all_preds: list[torch.Tensor] = []
        self.all_labels: list[torch.Tensor] = []

    def update_stats(self, top1_err: float, top5_err: float, mb_size: int) -> None:
        """Record one batch's errors (percent)."""
        self.top1_err.add(top1_err)
        self.top5_err.add(top5_err)
        self.num_top1_mis += float(top1_err) * mb_size
        self.num_top5_mis += float(top5_err) * mb_size
        self.num_samples += mb_size

    def update_predictions(self, preds: torch.Tensor, labels: torch.Tensor) -> None:
        """Keep one batch's scores and 0/1 labels for the epoch's mAP (multi-label)."""
        self.all_preds.append(preds.detach().float().cpu())
        self.all_labels.append(labels.detach().cpu())

    def _common(self, cur_epoch: int) -> dict[str, Any]:
        return {
            "epoch": cur_epoch + 1,
            "max_epoch": self.max_epoch,
            **self.timing_stats(),
            "mem_mb": memory_mb(),
            "elapsed_s": time.time() - self.start_time,
        }

    def iter_stats(self, cur_epoch: int, cur_iter: int) -> dict[str, Any]:
        stats = {
            "_type": "val_iter",
            **self._common(cur_epoch),
            "iter": cur_iter + 1,
            "iters": self.max_iter,
            "eta_s": self.iter_time.mean() * (self.max_iter - cur_iter - 1),
        }
        if not self.multi_label and self.top1_err.count:
            stats["top1_err"] = self.top1_err.median()
            stats["top5_err"] = self.top5_err.median()
        return stats

    def epoch_stats(self, cur_epoch: int) -> dict[str, Any]:
        stats = {"_type": "val_epoch", **self._common(cur_epoch)}
        if self.multi_label:
            if not self.all_preds:
                raise RuntimeError("ValMeter.epoch_stats: no predictions were recorded")
            value = metrics.mean_average_precision(
                torch.cat(self.all_preds), torch.cat(self.all_labels)
            )
            if not np.isnan(value):
                self.max_map = max(self.max_map, value)
            stats["map"] = value
            stats["max_map"] = self.max_map
        else:
            if not self.num_samples:
                raise RuntimeError("ValMeter.epoch_stats: no batches were recorded")
            top1 = self.num_top1_mis / self.num_samples
            top5 = self.num_top5_mis / self.num_samples
            self.min_top1_err = min(self.min_top1_err, top1)
            self.min_top5_err = min(self.min_top5_err, top5)
            stats.update(
                top1_err=top1,
                top5_err=top5,
                min_top1_err=self.min_top1_err,
                min_top5_err=self.min_top5_err,
            )
        return stats


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
