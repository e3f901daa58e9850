"""The clip pipeline every dataset shares; a dataset subclass only parses its annotation files.

``dataset[index]`` or ``dataset[(index, shape)]`` (a :class:`~slowfast.datasets.shape.ClipShape`)
returns ``(frames, label, index, meta)``:

* ``frames`` — a list of ``C x T x H x W`` float tensors, one per pathway (see ``packing``);
* ``label`` — an int, or for multi-label datasets a float multi-hot tensor of
  ``MODEL.NUM_CLASSES``;
* ``index`` — the dataset index of the item returned (in training, a replacement's index when the
  asked-for video could not be read); in the test split a *clip* index, ordered video by video,
  then temporal view, then spatial crop, so the video is ``index // num_views``;
* ``meta`` — ``{"video_idx": int, "skipped": [paths], "failed": bool}``.

Training and validation take one random clip per video (random position, scale, crop and flip, as
PySlowFast does for both); a ``ClipShape`` from a batch sampler (multigrid's) sets the frames,
sampling rate, crop and scale jitter, else the configured ones apply. A clip
that cannot be read in training is logged, recorded in ``meta["skipped"]`` and replaced by a
random other video, at most ``DATA.MAX_LOAD_RETRIES`` times in a row. In testing a failure is an
error unless ``TEST.SKIP_FAILED_VIDEOS``, which returns zeros marked ``meta["failed"]``.

Test views of one video share frames: the first view asked for decodes the frames of all its
temporal views in one pass and keeps them in a small per-process cache, so the other views
(consecutive indices, usually in the same batch and worker) cost no decoding.
"""

from __future__ import annotations

import functools
import random
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from fvcore.common.config import CfgNode
from torch.utils.data import Dataset

from slowfast.config.errors import ConfigError
from slowfast.datasets import sampling, transform
from slowfast.datasets.cache import CachedVideoReader
from slowfast.datasets.decoder import VideoReader, open_video, resolve_backend
from slowfast.datasets.errors import DataError
from slowfast.datasets.frames import FrameListReader
from slowfast.datasets.packing import pack_pathway_output
from slowfast.datasets.shape import ClipShape
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

SPLITS = ("train", "val", "test")
# Videos whose test frames are kept per process (views of one video are requested together).
_TEST_CACHE_VIDEOS = 2


@dataclass(frozen=True)
class VideoRecord:
    """One annotated video: an encoded file or a list of frame files, and its label(s)."""

    name: str  # shown in logs and meta["skipped"]: the file, or the folder of the frames
    label: int | tuple[int, ...]  # class id, or the video's set of class ids (multi-label)
    path: str | None = None  # encoded video
    frames: tuple[str, ...] | None = None  # frame files, in order
    frame_labels: tuple[tuple[int, ...], ...] | None = None  # per frame, for clip-level labels


class VideoDataset(Dataset):
    """Shared sampling, loading, transforms and error policy (see the module docstring).

    Subclasses set :attr:`temporal_rule` ("clip", "segment" or "stride", the functions of
    ``sampling``), :attr:`multi_label`, and implement :meth:`load_records`.
    """

    temporal_rule = "clip"
    multi_label = False
    # Training items may be asked for as (index, shape, seed) (see __getitem__).
    accepts_item_seeds = True

    def __init__(self, cfg: CfgNode, split: str):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.cfg = cfg
        self.split = split
        self.rng = random.Random(cfg.RNG_SEED)
        # Decoder threads per video (0: FFmpeg's choice); loader workers share the cores.
        self.decode_threads = 0
        self.num_views = 1
        if split == "test":
            if cfg.TEST.NUM_SPATIAL_CROPS not in (1, 3):
                raise ConfigError(
                    f"TEST.NUM_SPATIAL_CROPS must be 1 or 3, got {cfg.TEST.NUM_SPATIAL_CROPS}"
                )
            if cfg.TEST.NUM_ENSEMBLE_VIEWS < 1:
                raise ConfigError(
                    f"TEST.NUM_ENSEMBLE_VIEWS must be >= 1, got {cfg.TEST.NUM_ENSEMBLE_VIEWS}"
                )
            self.num_views = cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
        self.backend = _decoding_backend(cfg.DATA.DECODING_BACKEND)
        self.annotation_path = ""
        self.records = self.load_records()
        if not self.records:
            raise DataError(f"{self.annotation_path}: no videos in the {split!r} split")
        # video index -> (frame indices of each temporal view, {frame index: frame} or the error)
        self._test_cache: OrderedDict[int, tuple] = OrderedDict()
        logger.info(
            "%s %s: %d videos, %d items from %s",
            type(self).__name__,
            split,
            self.num_videos,
            len(self),
            self.annotation_path,
        )

    # ----------------------------------------------------------------------------------------
    # What a subclass provides
    # ----------------------------------------------------------------------------------------
    def load_records(self) -> list[VideoRecord]:
        """Parse the annotation files of ``self.split``; set ``self.annotation_path`` for errors."""
        raise NotImplementedError

    def clip_label(
        self, video_idx: int, frame_indices: Sequence[int] | None
    ) -> int | tuple[int, ...]:
        """The label of a clip made of ``frame_indices``; by default the video's label."""
        return self.records[video_idx].label

    # ----------------------------------------------------------------------------------------
    # Dataset protocol
    # ----------------------------------------------------------------------------------------
    @property
    def num_videos(self) -> int:
        return len(self.records)

    def __len__(self) -> int:
        return self.num_videos * self.num_views

    def reseed(self, seed: int) -> None:
        """Restart this process's augmentation random stream (the loader's worker init calls it)."""
        self.rng.seed(seed)

    def train_shape(self) -> ClipShape:
        """The clip shape of the config, for items asked for without one."""
        cfg = self.cfg
        low, high = cfg.DATA.TRAIN_JITTER_SCALES
        return ClipShape(
            cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE, int(low), int(high),
            cfg.DATA.SAMPLING_RATE, cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE,
        )

    def __getitem__(self, key: int | tuple):
        """A training item for ``index``, ``(index, shape)`` or ``(index, shape, seed)``.

        ``shape`` (a :class:`ClipShape`, or None for the config's) is the clip's shape; ``seed``
        draws the item's augmentation from its own stream instead of the dataset's running one,
        so that an item is the same whichever worker loads it and whatever came before it (the
        training samplers give every item a seed; a resumed run relies on it).
        """
        index, shape, seed = _split_key(key)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is outside [0, {len(self)})")
        if self.split == "test":
            return self._test_item(index)
        if shape is not None and not isinstance(shape, ClipShape):
            raise TypeError(f"a training item's shape must be a ClipShape, got {shape!r}")
        rng = self.rng if seed is None else random.Random(int(seed))
        return self._train_item(index, shape or self.train_shape(), rng)

    def __getitems__(self, keys: Sequence) -> list:
        """A batch of items (the loader's batched fetch). Training keys that repeat a video and
        shape (multigrid's ``DATA.CLIPS_PER_DECODE``) are cut from one decode of it, each with
        its own seed's sampling rate, scale, crop and flip; for an encoded video their positions
        are drawn inside one shared stretch (:meth:`_decode_window`), so they are not the clips
        ``dataset[key]`` would give. Every other key is ``dataset[key]``."""
        out: list = [None] * len(keys)
        groups: OrderedDict[tuple, list[int]] = OrderedDict()
        for position, key in enumerate(keys):
            index, shape, seed = _split_key(key)
            if self.split != "test" and seed is not None and isinstance(shape, ClipShape):
                groups.setdefault((index, shape), []).append(position)
            else:
                out[position] = self[key]
        for (index, shape), positions in groups.items():
            items = None
            if len(positions) > 1 and 0 <= index < len(self):
                seeds = [int(_split_key(keys[p])[2]) for p in positions]
                items = self._train_items_one_decode(index, shape, seeds)
            for k, position in enumerate(positions):
                out[position] = items[k] if items is not None else self[keys[position]]
        return out

    def _train_items_one_decode(self, video_idx: int, shape: ClipShape, seeds: list[int]):
        """The training items of ``seeds`` on one video, decoded once; None when the video
        cannot be read (each item then takes the one-by-one path, with its retries)."""
        rngs = [random.Random(seed) for seed in seeds]
        record = self.records[video_idx]
        try:
            with self._open(record) as reader:
                window = self._decode_window(reader, shape, random.Random(seeds[0] + 1))
                clips, scales = [], []
                for rng in rngs:  # the draws of read_random_clip, in its order
                    rate = sampling.draw_sampling_rate(
                        shape.sampling_rate, shape.max_sampling_rate, rng
                    )
                    if window is None:
                        clips.append(self._frame_indices(
                            reader, sampling.RANDOM_VIEW, rate, shape.num_frames, rng
                        ))
                    else:
                        clips.append(sampling.window_clip_indices(
                            reader.num_frames, shape.num_frames, rate, reader.fps,
                            self.cfg.DATA.TARGET_FPS, window, rng,
                        ))
                    scales.append(self._decode_scale(shape, rng))
                union = sorted(set().union(*clips))
                # Frame files can be read at a reduced scale that serves every clip; video
                # frames are decoded at the file's size and each clip resized on its own.
                short_side = max(scales) if record.frames is not None and None not in scales \
                    else None
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

    def _decode_window(self, reader: VideoReader, shape: ClipShape, rng: random.Random):
        """(first frame, span) of the stretch of an encoded video that several clips of
        ``shape`` share: as long as the shape's longest clip (its highest sampling rate), at a
        random position. None for frame lists and the segment and stride rules, whose clips are
        drawn over the whole video as usual (a frame file costs the same wherever it is)."""
        if self.temporal_rule != "clip" or not reader.fps:
            return None
        rate = max(shape.sampling_rate, shape.max_sampling_rate)
        span = sampling.clip_span(shape.num_frames, rate, reader.fps, self.cfg.DATA.TARGET_FPS)
        return rng.uniform(0.0, max(reader.num_frames - span, 0.0)), span

    # ----------------------------------------------------------------------------------------
    # Training and validation
    # ----------------------------------------------------------------------------------------
    def _train_item(self, video_idx: int, shape: ClipShape, rng: random.Random):
        skipped: list[str] = []
        max_retries = self.cfg.DATA.MAX_LOAD_RETRIES
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

    def read_random_clip(
        self, video_idx: int, shape: ClipShape | None = None, rng: random.Random | None = None
    ) -> tuple[np.ndarray, list[int]]:
        """A random clip of a video as ``T x H x W x 3`` uint8, and its frame indices."""
        shape = shape or self.train_shape()
        rng = rng or self.rng
        sampling_rate = sampling.draw_sampling_rate(
            shape.sampling_rate, shape.max_sampling_rate, rng
        )
        with self._open(self.records[video_idx]) as reader:
            indices = self._frame_indices(
                reader, sampling.RANDOM_VIEW, sampling_rate, shape.num_frames, rng
            )
            return reader.read(indices, self._decode_scale(shape, rng)), indices

    def _decode_scale(self, shape: ClipShape, rng: random.Random) -> int | None:
        """The short side the transform will scale this clip to, for the reader to decode at
        (``DATA.DECODE_AT_SCALE``); None decodes at the file's size."""
        if not self.cfg.DATA.DECODE_AT_SCALE:
            return None
        inverse = self.cfg.DATA.INV_UNIFORM_SAMPLE
        return transform.peek(rng, lambda r: transform.train_scale(
            shape.min_scale, shape.max_scale, shape.crop_size, r, inverse_uniform=inverse
        ))

    def transform_train_clip(
        self, frames: np.ndarray, shape: ClipShape | None = None, rng: random.Random | None = None
    ) -> list[torch.Tensor]:
        """Random scale and crop (of ``shape``'s size and jitter) and flip, then packing."""
        cfg = self.cfg
        shape = shape or self.train_shape()
        frames = transform.train_spatial(
            frames,
            shape.min_scale,
            shape.max_scale,
            shape.crop_size,
            cfg.DATA.RANDOM_FLIP,
            rng or self.rng,
            inverse_uniform=cfg.DATA.INV_UNIFORM_SAMPLE,
        )
        return self._pack(frames)

    # ----------------------------------------------------------------------------------------
    # Testing
    # ----------------------------------------------------------------------------------------
    def _test_item(self, index: int):
        cfg = self.cfg
        video_idx, view = divmod(index, self.num_views)
        temporal_view, spatial_idx = divmod(view, cfg.TEST.NUM_SPATIAL_CROPS)
        if cfg.TEST.NUM_SPATIAL_CROPS == 1:
            spatial_idx = 1  # the centre crop
        meta = {"video_idx": video_idx, "skipped": [], "failed": False}
        record = self.records[video_idx]
        try:
            view_indices, frames_by_index = self._test_frames(video_idx)
        except DataError as e:
            if not cfg.TEST.SKIP_FAILED_VIDEOS:
                raise DataError(
                    f"test video {record.name} could not be loaded: {e} "
                    "(TEST.SKIP_FAILED_VIDEOS True leaves such videos out of the metrics)"
                ) from None
            meta["failed"] = True
            size = cfg.DATA.TEST_CROP_SIZE
            zeros = torch.zeros(len(cfg.DATA.MEAN), cfg.DATA.NUM_FRAMES, size, size)
            label = self._label_output(self.clip_label(video_idx, None))
            return pack_pathway_output(cfg, zeros), label, index, meta
        indices = view_indices[temporal_view]
        frames = np.stack([frames_by_index[i] for i in indices])
        frames = transform.test_spatial(
            frames, cfg.DATA.TEST_CROP_SIZE, cfg.DATA.TEST_CROP_SIZE, spatial_idx
        )
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
                        self._frame_indices(reader, v, self.cfg.DATA.SAMPLING_RATE)
                        for v in range(self.cfg.TEST.NUM_ENSEMBLE_VIEWS)
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

    # ----------------------------------------------------------------------------------------
    # Shared steps
    # ----------------------------------------------------------------------------------------
    def _open(self, record: VideoRecord) -> VideoReader:
        """A reader of the record's frames; through the decoded-video cache when
        ``DATA.DECODED_CACHE_MB`` > 0 (see ``cache``)."""
        if record.frames is not None:
            opener = functools.partial(FrameListReader, record.frames)
        else:
            opener = functools.partial(open_video, record.path, self.backend, self.decode_threads)
        budget_mb = self.cfg.DATA.DECODED_CACHE_MB
        if budget_mb > 0:
            return CachedVideoReader(record.name, opener, int(budget_mb * 2**20))
        return opener()

    def _frame_indices(
        self,
        reader: VideoReader,
        view: int,
        sampling_rate: int,
        num_frames: int | None = None,
        rng: random.Random | None = None,
    ) -> list[int]:
        cfg = self.cfg
        rng = rng or self.rng
        num_frames = num_frames or cfg.DATA.NUM_FRAMES
        num_views = cfg.TEST.NUM_ENSEMBLE_VIEWS
        if self.temporal_rule == "clip":
            return sampling.clip_indices(
                reader.num_frames,
                num_frames,
                sampling_rate,
                reader.fps,
                cfg.DATA.TARGET_FPS,
                view,
                num_views,
                rng,
            )
        if self.temporal_rule == "segment":
            return sampling.segment_indices(reader.num_frames, num_frames, view, rng)
        if self.temporal_rule == "stride":
            return sampling.stride_indices(
                reader.num_frames, num_frames, sampling_rate, view, num_views, rng
            )
        raise ValueError(f"unknown temporal_rule {self.temporal_rule!r}")

    def _pack(self, frames: np.ndarray) -> list[torch.Tensor]:
        clip = transform.to_normalized_tensor(frames, self.cfg.DATA.MEAN, self.cfg.DATA.STD)
        return pack_pathway_output(self.cfg, clip)

    def _label_output(self, label: int | Sequence[int]) -> int | torch.Tensor:
        if not self.multi_label:
            return label
        target = torch.zeros(self.cfg.MODEL.NUM_CLASSES, dtype=torch.float32)
        target[list(label)] = 1.0
        return target


_backend_notes_logged: set[str] = set()


def _decoding_backend(name: str) -> str:
    """The backend this process decodes with for ``DATA.DECODING_BACKEND`` ``name``; the
    fallback of an unusable ``torchvision`` is logged once per process, a missing ``decord`` is
    a configuration error."""
    backend, problem = resolve_backend(name)
    if problem is not None and backend == name:
        raise ConfigError(f"DATA.DECODING_BACKEND: {problem}")
    if problem is not None and name not in _backend_notes_logged:
        _backend_notes_logged.add(name)
        logger.warning(problem)
    return backend


def _split_key(key: int | tuple) -> tuple[int, ClipShape | None, int | None]:
    """``(index, shape, seed)`` of a dataset key (see :meth:`VideoDataset.__getitem__`)."""
    if not isinstance(key, tuple):
        return int(key), None, None
    if not 1 <= len(key) <= 3:
        raise TypeError(
            f"a dataset key is index, (index, shape) or (index, shape, seed); got {key!r}"
        )
    index, shape, seed = (*key, None, None)[:3]
    return int(index), shape, seed

