"""Something-Something v2: JPEG frame lists plus the label JSON files.

``DATA.PATH_TO_DATA_DIR`` holds ``something-something-v2-labels.json`` (template -> class id),
``something-something-v2-train.json`` / ``-validation.json`` (one ``{"id", "template", ...}`` per
video; templates carry ``[something]`` brackets that the labels file omits) and the frame lists
``train.csv`` / ``val.csv`` (see ``annotations.read_frame_list``), frame paths relative to
``DATA.PATH_PREFIX``. The val and test splits both read the validation files. Videos keep the
order of the split's JSON file; those without frames are left out with a warning.
"""

from __future__ import annotations

import os

from slowfast.datasets.annotations import read_frame_list, read_json
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.errors import DataError
from slowfast.datasets.video_dataset import (
    Annotations,
    AnnotationSource,
    VideoDataset,
    VideoRecord,
)
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

LABELS_FILE = "something-something-v2-labels.json"


@DATASET_REGISTRY.register()
class Ssv2(VideoDataset):
    """Something-Something v2 with segment-based sampling (one frame per segment)."""

    temporal_rule = "segment"

    @classmethod
    def read_annotations(cls, split: str, source: AnnotationSource) -> Annotations:
        """The split's JSON file, labelled through the labels file, with its frame list."""
        root = source.data_dir
        train = split == "train"
        labels_path = os.path.join(root, LABELS_FILE)
        split_path = os.path.join(
            root, f"something-something-v2-{'train' if train else 'validation'}.json"
        )
        list_path = os.path.join(root, f"{'train' if train else 'val'}.csv")
        class_ids = _class_ids(labels_path, source.num_classes)
        entries = read_json(split_path, "SSv2 split file")
        if not isinstance(entries, list):
            raise DataError(f"{split_path}: expected a JSON list of videos")
        videos = read_frame_list(list_path, source.path_prefix)
        records, missing = [], []
        for n, entry in enumerate(entries):
            try:
                video_id, template = str(entry["id"]), entry["template"]
            except (TypeError, KeyError):
                raise DataError(
                    f"{split_path}: entry {n} needs 'id' and 'template': {entry!r}"
                ) from None
            name = template.replace("[", "").replace("]", "")
            if name not in class_ids:
                raise DataError(
                    f"{split_path}: video {video_id}: template {name!r} is not in {labels_path}"
                )
            video = videos.get(video_id)
            if video is None:
                missing.append(video_id)
                continue
            records.append(
                VideoRecord(
                    name=os.path.dirname(video.frames[0]),
                    label=class_ids[name],
                    frames=tuple(video.frames),
                )
            )
        if missing:
            logger.warning(
                "%d of the %d videos of %s have no frames in %s and are left out (e.g. %s)",
                len(missing),
                len(entries),
                split_path,
                list_path,
                ", ".join(missing[:3]),
            )
        return records, split_path


def _class_ids(path: str, num_classes: int) -> dict[str, int]:
    table = read_json(path, "SSv2 label file")
    if not isinstance(table, dict):
        raise DataError(f"{path}: expected a JSON object mapping templates to class ids")
    ids = {}
    for name, value in table.items():
        try:
            ids[name] = int(value)
        except (TypeError, ValueError):
            raise DataError(f"{path}: class id {value!r} of {name!r} is not an integer") from None
        if not 0 <= ids[name] < num_classes:
            raise DataError(
                f"{path}: class id {ids[name]} of {name!r} is outside "
                f"[0, MODEL.NUM_CLASSES={num_classes})"
            )
    return ids
