"""Kinetics: encoded videos listed as ``path label`` lines in ``{split}.csv``.

``DATA.PATH_TO_DATA_DIR/{train,val,test}.csv`` hold one video per line: a path, then
``DATA.PATH_LABEL_SEPARATOR`` (a space by default), then an integer class id. The path is joined
to ``DATA.PATH_PREFIX`` (an absolute path stays as it is). The label is the text after the last
separator, so paths may contain the separator.
"""

from __future__ import annotations

import os

from slowfast.datasets.annotations import bad_line, parse_label, read_lines
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.video_dataset import (
    Annotations,
    AnnotationSource,
    VideoDataset,
    VideoRecord,
)


@DATASET_REGISTRY.register()
class Kinetics(VideoDataset):
    """Kinetics-style video classification from ``path label`` CSV files."""

    temporal_rule = "clip"

    @classmethod
    def read_annotations(cls, split: str, source: AnnotationSource) -> Annotations:
        """The ``path{separator}label`` lines of ``{split}.csv``."""
        path = os.path.join(source.data_dir, f"{split}.csv")
        separator = source.separator
        records = []
        for lineno, line in read_lines(path, f"Kinetics {split} annotation file"):
            fields = line.strip().rsplit(separator, 1)
            if len(fields) != 2 or not fields[0]:
                why = f"expected 'path{separator}label' (DATA.PATH_LABEL_SEPARATOR={separator!r})"
                raise bad_line(path, lineno, line, why)
            video = os.path.join(source.path_prefix, fields[0].strip())
            label = parse_label(fields[1].strip(), source.num_classes, path, lineno, line)
            records.append(VideoRecord(name=video, label=label, path=video))
        return records, path
