"""Training and validation clips of a :class:`~slowfast.datasets.video_dataset.VideoDataset`.

One random clip per video (random position, scale, crop and flip, as PySlowFast does for both
splits); a ``ClipShape`` from a batch sampler (multigrid's) sets the frames, sampling rate, crop
and scale jitter, else the options' shape applies. A clip that cannot be read is logged,
recorded in ``meta["skipped"]`` and replaced by a random other video, at most
``max_load_retries`` times in a row. Several clips of one video and shape can be cut from one
decode (:meth:`TrainClips._train_items_one_decode`).
"""

from __future__ import annotations

import random

import numpy as np
import torch

from slowfast.datasets.errors import DataError
from slowfast.datasets.sampling import RANDOM_VIEW, draw_sampling_rate
from slowfast.datasets.shape import ClipShape
from slowfast.datasets.transform import peek, train_scale, train_spatial
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)


class TrainClips:
    """The training-item half of ``VideoDataset`` (it supplies records, sampler, options and
    the shared steps ``_open``, ``_frame_indices``, ``_pack``, ``_label_output``)."""

    def _train_item(self, video_idx: int, shape: ClipShape, rng: random.Random):
        skipped: list[str] = []
        max_retries = self.options.max_load_retries
        for _ in range(max_retries + 1):
            try:
                frames, indices = self.read_random_clip(video_idx, shape, rng)
                break
            except DataError as e:
                name = self.records[video_idx].name
                logger.warning("skipping unreadable %s sample %s: %s", self.split, name, e)
                skipped.append(name)
                last_error = e
                video_idx = rng.randrange(self.num_videos)
        else:
            raise DataError(
                f"{max_retries + 1} {self.split} samples in a row could not be loaded "
                f"(DATA.MAX_LOAD_RETRIES={max_retries}); the last: {last_error}"
            )
        label = self._label_output(self.clip_label(video_idx, indices))
        meta = {"video_idx": video_idx, "skipped": skipped, "failed": False}
        return self.transform_train_clip(frames, shape, rng), label, video_idx, meta

    def _train_items_one_decode(self, video_idx: int, shape: ClipShape, seeds: list[int]):
        """The training items of ``seeds`` on one video, decoded once; None when the video
        cannot be read (each item then takes the one-by-one path, with its retries)."""
        rngs = [random.Random(seed) for seed in seeds]
        record = self.records[video_idx]
        try:
            with self._open(record) as reader:
                rate = max(shape.sampling_rate, shape.max_sampling_rate)
                window = self.sampler.shared_window(
                    reader.num_frames,
                    reader.fps,
                    shape.num_frames,
                    rate,
                    random.Random(seeds[0] + 1),
                )
                clips, scales = [], []
                for rng in rngs:  # the draws of read_random_clip, in its order
                    rate = draw_sampling_rate(shape.sampling_rate, shape.max_sampling_rate, rng)
                    if window is None:
                        clips.append(
                            self._frame_indices(reader, RANDOM_VIEW, rate, shape.num_frames, rng)
                        )
                    else:
                        clips.append(
                            self.sampler.window_indices(
                                reader.num_frames, reader.fps, shape.num_frames, rate, window, rng
                            )
                        )
                    scales.append(self._decode_scale(shape, rng))
                union = sorted(set().union(*clips))
                # Frame files can be read at a reduced scale that serves every clip; video
                # frames are decoded at the file's size and each clip resized on its own.
                short_side = (
                    max(scales) if record.frames is not None and None not in scales else None
                )
                frames = dict(zip(union, reader.read(union, short_side)))
        except DataError as e:
            logger.warning("one decode for %d clips of %s failed: %s", len(seeds), record.name, e)
            return None
        items = []
        for rng, indices in zip(rngs, clips):
            clip = np.stack([frames[i] for i in indices])
            label = self._label_output(self.clip_label(video_idx, indices))
            meta = {"video_idx": video_idx, "skipped": [], "failed": False}
            items.append((self.transform_train_clip(clip, shape, rng), label, video_idx, meta))
        return items

    def read_random_clip(
        self, video_idx: int, shape: ClipShape | None = None, rng: random.Random | None = None
    ) -> tuple[np.ndarray, list[int]]:
        """A random clip of a video as ``T x H x W x 3`` uint8, and its frame indices."""
        shape = shape or self.train_shape()
        rng = rng or self.rng
        sampling_rate = draw_sampling_rate(shape.sampling_rate, shape.max_sampling_rate, rng)
        with self._open(self.records[video_idx]) as reader:
            indices = self._frame_indices(reader, RANDOM_VIEW, sampling_rate, shape.num_frames, rng)
            return reader.read(indices, self._decode_scale(shape, rng)), indices

    def _decode_scale(self, shape: ClipShape, rng: random.Random) -> int | None:
        """The short side the transform will scale this clip to, for the reader to decode at
        (the options' ``decode_at_scale``); None decodes at the file's size."""
        if not self.options.decode_at_scale:
            return None
        inverse = self.options.inverse_uniform
        return peek(
            rng,
            lambda r: train_scale(
                shape.min_scale, shape.max_scale, shape.crop_size, r, inverse_uniform=inverse
            ),
        )

    def transform_train_clip(
        self, frames: np.ndarray, shape: ClipShape | None = None, rng: random.Random | None = None
    ) -> list[torch.Tensor]:
        """Random scale and crop (of ``shape``'s size and jitter) and flip, then packing."""
        shape = shape or self.train_shape()
        frames = train_spatial(
            frames,
            shape.min_scale,
            shape.max_scale,
            shape.crop_size,
            self.options.random_flip,
            rng or self.rng,
            inverse_uniform=self.options.inverse_uniform,
        )
        return self._pack(frames)
