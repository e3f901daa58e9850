"""Charades: multi-label JPEG frame lists.

``DATA.PATH_TO_DATA_DIR/train.csv`` and ``val.csv`` (val and test read ``val.csv``) are frame lists
(see ``annotations.read_frame_list``) whose ``labels`` field holds the comma-separated actions of
each frame. As in PySlowFast, a training clip is labelled with the actions of the frames it spans;
validation and test clips with every action of the video. Targets are multi-hot float vectors.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from slowfast.datasets.annotations import read_frame_list
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.video_dataset import (
    Annotations,
    AnnotationSource,
    VideoDataset,
    VideoRecord,
)


@DATASET_REGISTRY.register()
class Charades(VideoDataset):
    """Charades with frames ``DATA.SAMPLING_RATE`` apart and multi-hot targets."""

    temporal_rule = "stride"
    multi_label = True

    @classmethod
    def read_annotations(cls, split: str, source: AnnotationSource) -> Annotations:
        """The frame list of the split (val and test: ``val.csv``) with per-frame labels."""
        path = os.path.join(source.data_dir, f"{'train' if split == 'train' else 'val'}.csv")
        videos = read_frame_list(path, source.path_prefix, source.num_classes)
        records = []
        for video in videos.values():
            video_labels = tuple(sorted({c for labels in video.frame_labels for c in labels}))
            records.append(
                VideoRecord(
                    name=os.path.dirname(video.frames[0]),
                    label=video_labels,
                    frames=tuple(video.frames),
                    frame_labels=tuple(video.frame_labels),
                )
            )
        return records, path

    def clip_label(self, video_idx: int, frame_indices: Sequence[int] | None) -> tuple[int, ...]:
        record = self.records[video_idx]
        if self.split != "train" or frame_indices is None:
            return record.label
        first, last = min(frame_indices), max(frame_indices)
        return tuple(sorted({c for f in record.frame_labels[first : last + 1] for c in f}))
