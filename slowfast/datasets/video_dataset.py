"""The dataset every video format shares: parsed records, an injected clip sampler, options.

A :class:`VideoDataset` is built from the records a format's parser read (:class:`VideoRecord`),
a :class:`~slowfast.datasets.clip_sampler.ClipSampler` and
:class:`~slowfast.datasets.options.DatasetOptions`; it reads no config. A format (Kinetics, SSv2,
Charades) only parses its annotation files in :meth:`VideoDataset.read_annotations`;
:meth:`VideoDataset.from_cfg` is the edge that reads the config, parses and constructs.

``dataset[index]`` or ``dataset[(index, shape)]`` (a :class:`~slowfast.datasets.shape.ClipShape`)
returns ``(frames, label, index, meta)``:

* ``frames`` — a list of ``C x T x H x W`` float tensors, one per pathway (see ``packing``);
* ``label`` — an int, or for multi-label datasets a float multi-hot tensor of ``num_classes``;
* ``index`` — the dataset index of the item returned (in training, a replacement's index when the
  asked-for video could not be read); in the test split a *clip* index, ordered video by video,
  then temporal view, then spatial crop, so the video is ``index // num_views``;
* ``meta`` — ``{"video_idx": int, "skipped": [paths], "failed": bool}``.

Training and validation clips: :mod:`~slowfast.datasets.train_clips`; multi-view test clips:
:mod:`~slowfast.datasets.multiview`.
"""

from __future__ import annotations

import functools
import random
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from fvcore.common.config import CfgNode
from torch.utils.data import Dataset

from slowfast.datasets.cache import CachedVideoReader
from slowfast.datasets.clip_sampler import ClipSampler
from slowfast.datasets.decoder import VideoReader, open_video
from slowfast.datasets.errors import DataError
from slowfast.datasets.frames import FrameListReader
from slowfast.datasets.multiview import MultiViewClips
from slowfast.datasets.options import DatasetOptions
from slowfast.datasets.shape import ClipShape
from slowfast.datasets.train_clips import TrainClips
from slowfast.datasets.transform import to_normalized_tensor
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class VideoRecord:
    """One annotated video: an encoded file or a list of frame files, and its label(s)."""

    name: str  # shown in logs and meta["skipped"]: the file, or the folder of the frames
    label: int | tuple[int, ...]  # class id, or the video's set of class ids (multi-label)
    path: str | None = None  # encoded video
    frames: tuple[str, ...] | None = None  # frame files, in order
    frame_labels: tuple[tuple[int, ...], ...] | None = None  # per frame, for clip-level labels


# What a format's parser returns: the records, and the annotation file to name in errors.
Annotations = tuple[list[VideoRecord], str]


@dataclass(frozen=True)
class AnnotationSource:
    """Where a format's annotation files are and how to read them: the folder
    (DATA.PATH_TO_DATA_DIR), the prefix joined to the media paths in them (DATA.PATH_PREFIX), the
    number of classes (MODEL.NUM_CLASSES) and the Kinetics path/label separator
    (DATA.PATH_LABEL_SEPARATOR)."""

    data_dir: str
    path_prefix: str = ""
    num_classes: int = 400
    separator: str = " "

    @classmethod
    def from_cfg(cls, cfg: CfgNode) -> AnnotationSource:
        """The source the config names."""
        data = cfg.DATA
        return cls(
            data.PATH_TO_DATA_DIR,
            data.PATH_PREFIX,
            cfg.MODEL.NUM_CLASSES,
            data.PATH_LABEL_SEPARATOR,
        )


class VideoDataset(TrainClips, MultiViewClips, Dataset):
    """Records, a clip sampler and options in; clips out (see the module docstring).

    Subclasses set :attr:`temporal_rule` (the rule of the sampler :meth:`from_cfg` builds),
    :attr:`multi_label`, and implement :meth:`read_annotations`.
    """

    temporal_rule = "clip"
    multi_label = False
    # Training items may be asked for as (index, shape, seed) (see __getitem__).
    accepts_item_seeds = True

    def __init__(
        self,
        records: Sequence[VideoRecord],
        split: str,
        sampler: ClipSampler,
        options: DatasetOptions,
        annotation_path: str = "",
    ):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.split = split
        self.sampler = sampler
        self.options = options
        self.annotation_path = annotation_path
        self.records = list(records)
        if not self.records:
            raise DataError(f"{annotation_path}: no videos in the {split!r} split")
        self.rng = random.Random(options.seed)
        # Decoder threads per video (0: FFmpeg's choice); loader workers share the cores.
        self.decode_threads = 0
        self.num_views = 1
        if split == "test":
            if options.num_spatial_crops not in (1, 3):
                raise ValueError(
                    f"num_spatial_crops must be 1 or 3, got {options.num_spatial_crops}"
                )
            self.num_views = sampler.num_test_views * options.num_spatial_crops
        # video index -> (frame indices of each temporal view, {frame index: frame} or the error)
        self._test_cache: OrderedDict[int, tuple] = OrderedDict()
        logger.info(
            "%s %s: %d videos, %d items from %s",
            type(self).__name__,
            split,
            self.num_videos,
            len(self),
            annotation_path,
        )

    # ----------------------------------------------------------------------------------------
    # What a subclass provides, and the edge that reads the config
    # ----------------------------------------------------------------------------------------
    @classmethod
    def read_annotations(cls, split: str, source: AnnotationSource) -> Annotations:
        """Parse the annotation files of ``split`` under ``source.data_dir``: (records, the file
        named in errors). Paths in them are joined to ``source.path_prefix``."""
        raise NotImplementedError

    @classmethod
    def from_cfg(cls, cfg: CfgNode, split: str) -> VideoDataset:
        """Parse ``split``'s annotations where the config says and build the dataset with the
        config's clip sampler and options (the registry's constructor, see ``build``)."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        records, path = cls.read_annotations(split, AnnotationSource.from_cfg(cfg))
        options = DatasetOptions.from_cfg(cfg)
        dataset = cls(records, split, ClipSampler.from_cfg(cfg, cls.temporal_rule), options, path)
        # Provenance for tools that emulate other pipelines; the dataset itself never reads it.
        dataset.cfg = cfg
        return dataset

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

    @property
    def backend(self) -> str:
        """The decoding backend this dataset reads encoded videos with."""
        return self.options.backend

    def __len__(self) -> int:
        return self.num_videos * self.num_views

    def reseed(self, seed: int) -> None:
        """Restart this process's augmentation random stream (the loader's worker init calls it)."""
        self.rng.seed(seed)

    def train_shape(self) -> ClipShape:
        """The clip shape of the options, for items asked for without one."""
        return self.options.train_shape()

    def __getitem__(self, key: int | tuple):
        """A training item for ``index``, ``(index, shape)`` or ``(index, shape, seed)``.

        ``shape`` (a :class:`ClipShape`, or None for the options') is the clip's shape; ``seed``
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
        are drawn inside one shared stretch (``ClipSampler.shared_window``), so they are not the
        clips ``dataset[key]`` would give. Every other key is ``dataset[key]``."""
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

    # ----------------------------------------------------------------------------------------
    # Shared steps
    # ----------------------------------------------------------------------------------------
    def _open(self, record: VideoRecord) -> VideoReader:
        """A reader of the record's frames; through the decoded-video cache when the options'
        ``decoded_cache_mb`` > 0 (see ``cache``)."""
        if record.frames is not None:
            opener = functools.partial(FrameListReader, record.frames)
        else:
            opener = functools.partial(
                open_video, record.path, self.options.backend, self.decode_threads
            )
        budget_mb = self.options.decoded_cache_mb
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
        return self.sampler.indices(
            reader.num_frames,
            reader.fps,
            view,
            sampling_rate,
            num_frames or self.options.num_frames,
            rng or self.rng,
        )

    def _pack(self, frames: np.ndarray) -> list[torch.Tensor]:
        options = self.options
        return options.packing(to_normalized_tensor(frames, options.mean, options.std))

    def _label_output(self, label: int | Sequence[int]) -> int | torch.Tensor:
        if not self.multi_label:
            return label
        target = torch.zeros(self.options.num_classes, dtype=torch.float32)
        target[list(label)] = 1.0
        return target


def _split_key(key: Any) -> tuple[int, ClipShape | None, int | None]:
    """``(index, shape, seed)`` of a dataset key (see :meth:`VideoDataset.__getitem__`)."""
    if not isinstance(key, tuple):
        return int(key), None, None
    if not 1 <= len(key) <= 3:
        raise TypeError(
            f"a dataset key is index, (index, shape) or (index, shape, seed); got {key!r}"
        )
    index, shape, seed = (*key, None, None)[:3]
    return int(index), shape, seed
