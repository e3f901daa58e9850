"""The schedule placed at iterations for one dataset size: what the training loop consumes.

A :class:`~slowfast.multigrid.schedule.Schedule` says how many (possibly fractional) epochs each
phase lasts. An :class:`IterationPlan` turns that into global iteration ranges for a training set
of ``num_videos`` clips, and answers, for any global iteration, the phase, the global batch size
and :class:`~slowfast.datasets.shape.ClipShape` of that iteration's batch (the short-cycle
position included), the learning rate, and the fractional epoch. Epochs are the stretches of
iterations whose fractional epoch lies in ``[e, e + 1)``: about ``num_videos`` clips each.

Two ways to place phases, from MULTIGRID.PHASE_UNIT:

* "epochs" (PySlowFast): whole-epoch phases, each epoch one drop-last pass of the phase's batch
  sizes over the data; warm-up over SOLVER.WARMUP_EPOCHS epochs of the schedule.
* "iterations": a phase of ``e`` epochs at a mean batch of ``b`` clips gets
  ``max(1, round(e * num_videos / b))`` iterations, so every phase keeps its share of training
  for any dataset size; the warm-up covers ``Schedule.warmup_share`` of all iterations.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from slowfast.datasets.shape import ClipShape
from slowfast.multigrid.phase import Phase
from slowfast.multigrid.schedule import Schedule

_EPS = 1e-9


@dataclass(frozen=True)
class PhaseSpan:
    """A phase and its global iterations ``[start_iter, end_iter)``."""

    phase: Phase
    start_iter: int
    end_iter: int
    batch_sizes: tuple[int, ...]  # global batch of each short-cycle position
    shapes: tuple[ClipShape, ...]  # clip shape of each short-cycle position

    @property
    def num_iters(self) -> int:
        return self.end_iter - self.start_iter


def pass_length(batch_sizes: tuple[int, ...], num_videos: int) -> int:
    """Whole batches in one drop-last pass over ``num_videos`` clips, cycling ``batch_sizes``."""
    cycle = sum(batch_sizes)
    iters = len(batch_sizes) * (num_videos // cycle)
    left = num_videos % cycle
    for size in batch_sizes:
        if left < size:
            break
        left -= size
        iters += 1
    return iters


class IterationPlan:
    """``schedule`` at iterations for ``num_videos`` training clips (see the module docstring)."""

    def __init__(self, schedule: Schedule, num_videos: int):
        if num_videos < 1:
            raise ValueError(f"num_videos must be >= 1, got {num_videos}")
        self.schedule = schedule
        self.num_videos = num_videos
        whole = schedule.unit == "epochs"
        spans, start = [], 0
        for phase in schedule.phases:
            sizes = tuple(b for b, _ in phase.short_cycle)
            if whole:
                iters = int(round(phase.num_epochs)) * pass_length(sizes, num_videos)
            else:
                iters = max(1, int(round(phase.num_epochs * num_videos / phase.mean_batch_size)))
            spans.append(PhaseSpan(phase, start, start + iters, sizes, phase.clip_shapes()))
            start += iters
        self.spans: tuple[PhaseSpan, ...] = tuple(spans)
        self.num_iters = start
        # Spans with iterations (whole epochs on a set smaller than one batch can have none).
        self._live = [s for s in spans if s.num_iters] or [spans[-1]]
        self._starts = [s.start_iter for s in self._live]
        self.num_epochs = schedule.num_epochs
        self.epoch_starts: tuple[int, ...] = tuple(
            [self._first_iter_of_epoch(e) for e in range(self.num_epochs)] + [self.num_iters]
        )
        if schedule.warmup_share is None:
            self.warmup_iters = None
        else:
            self.warmup_iters = int(round(schedule.warmup_share * self.num_iters))

    # -- where an iteration is ------------------------------------------------------------------
    def span_at(self, it: int) -> PhaseSpan:
        """The phase span holding global iteration ``it`` (the last one at or past the end)."""
        if it < 0:
            raise ValueError(f"iteration must be >= 0, got {it}")
        return self._live[max(bisect.bisect_right(self._starts, it) - 1, 0)]

    def phase_at(self, it: int) -> Phase:
        return self.span_at(it).phase

    def epoch_at(self, it: int) -> float:
        """The fractional epoch at the start of global iteration ``it``."""
        if it >= self.num_iters:
            return float(self.schedule.max_epoch)
        span = self.span_at(it)
        p = span.phase
        return p.start + (it - span.start_iter) * p.num_epochs / span.num_iters

    def batch_at(self, it: int) -> tuple[int, ClipShape]:
        """(global batch size, clip shape) of iteration ``it``: its short-cycle position."""
        span = self.span_at(it)
        pos = (it - span.start_iter) % len(span.shapes)
        return span.batch_sizes[pos], span.shapes[pos]

    def lr_at(self, it: int) -> float:
        """The learning rate of global iteration ``it``, warm-up included."""
        solver = self.phase_at(it).solver
        if self.warmup_iters is None:
            return solver.lr_with_warmup(self.epoch_at(it))
        if it < self.warmup_iters:
            target = solver.lr_at(self.epoch_at(self.warmup_iters))
            start = solver.warmup_start_lr
            return start + (target - start) * it / self.warmup_iters
        return solver.lr_at(self.epoch_at(it))

    # -- epochs ---------------------------------------------------------------------------------
    def _first_iter_of_epoch(self, epoch: int) -> int:
        for span in self.spans:
            p = span.phase
            if span.num_iters and p.start - _EPS <= epoch < p.end - _EPS:
                offset = (epoch - p.start) * span.num_iters / p.num_epochs
                return span.start_iter + int(math.ceil(offset - 1e-6))
        return self.num_iters

    def epoch_range(self, epoch: int) -> tuple[int, int]:
        """Global iterations ``[start, end)`` of ``epoch`` (0-based)."""
        if not 0 <= epoch < self.num_epochs:
            raise ValueError(f"epoch {epoch} is outside [0, {self.num_epochs})")
        return self.epoch_starts[epoch], self.epoch_starts[epoch + 1]

    def batches(self, epoch: int) -> list[tuple[int, ClipShape]]:
        """(global batch size, clip shape) of every iteration of ``epoch``, in order."""
        start, end = self.epoch_range(epoch)
        return [self.batch_at(i) for i in range(start, end)]

    def clips(self) -> int:
        """Clips the whole plan trains on."""
        total = 0
        for span in self.spans:
            cycles, rest = divmod(span.num_iters, len(span.batch_sizes))
            total += cycles * sum(span.batch_sizes) + sum(span.batch_sizes[:rest])
        return total
