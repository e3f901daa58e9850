"""Multi-view test clips of a :class:`~slowfast.datasets.video_dataset.VideoDataset`.

Each video gives ``num_test_views`` temporal views (the clip sampler's) times
``num_spatial_crops`` crops. Views of one video share frames: the first view asked for decodes
the frames of all its temporal views in one pass and keeps them in a small per-process cache, so
the other views (consecutive indices, usually in the same batch and worker) cost no decoding. A
failure is an error unless ``skip_failed_videos``, which returns zeros marked ``meta["failed"]``.
"""

from __future__ import annotations

import numpy as np
import torch

from slowfast.datasets.errors import DataError
from slowfast.datasets.transform import test_spatial
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

# Videos whose test frames are kept per process (views of one video are requested together).
_TEST_CACHE_VIDEOS = 2


class MultiViewClips:
    """The test-item half of ``VideoDataset`` (it supplies records, sampler, options, the cache
    ``_test_cache`` and the shared steps)."""

    def _test_item(self, index: int):
        options = self.options
        video_idx, view = divmod(index, self.num_views)
        temporal_view, spatial_idx = divmod(view, options.num_spatial_crops)
        if options.num_spatial_crops == 1:
            spatial_idx = 1  # the centre crop
        meta = {"video_idx": video_idx, "skipped": [], "failed": False}
        record = self.records[video_idx]
        try:
            view_indices, frames_by_index = self._test_frames(video_idx)
        except DataError as e:
            if not options.skip_failed_videos:
                raise DataError(
                    f"test video {record.name} could not be loaded: {e} "
                    "(TEST.SKIP_FAILED_VIDEOS True leaves such videos out of the metrics)"
                ) from None
            meta["failed"] = True
            size = options.test_crop_size
            zeros = torch.zeros(len(options.mean), options.num_frames, size, size)
            label = self._label_output(self.clip_label(video_idx, None))
            return options.packing(zeros), label, index, meta
        indices = view_indices[temporal_view]
        frames = np.stack([frames_by_index[i] for i in indices])
        frames = test_spatial(frames, options.test_crop_size, options.test_crop_size, spatial_idx)
        label = self._label_output(self.clip_label(video_idx, indices))
        return self._pack(frames), label, index, meta

    def _test_frames(self, video_idx: int) -> tuple[list[list[int]], dict[int, np.ndarray]]:
        """Frame indices of every temporal view of a video, and its frames decoded once."""
        cached = self._test_cache.get(video_idx)
        if cached is None:
            record = self.records[video_idx]
            view_indices: list[list[int]] = []
            try:
                with self._open(record) as reader:
                    view_indices = [
                        self._frame_indices(reader, v, self.options.sampling_rate)
                        for v in range(self.sampler.num_test_views)
                    ]
                    union = sorted({i for indices in view_indices for i in indices})
                    frames = dict(zip(union, reader.read(union)))
                cached = (view_indices, frames)
            except DataError as e:
                logger.warning("test video %s failed: %s", record.name, e)
                cached = (view_indices, e)
            self._test_cache[video_idx] = cached
            while len(self._test_cache) > _TEST_CACHE_VIDEOS:
                self._test_cache.popitem(last=False)
        view_indices, frames = cached
        if isinstance(frames, DataError):
            raise frames
        return view_indices, frames
