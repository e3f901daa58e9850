"""Readers for the annotation files the datasets share: text lines, frame lists and JSON.

Every problem is a :class:`DataError` that names the file, and for a bad line its number and text,
so a user can fix the file without reading this code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from slowfast.datasets.errors import DataError

FRAME_LIST_HEADER = "original_vido_id video_id frame_id path labels"


def require_file(path: str, what: str) -> str:
    """Return ``path`` if it is a file, else raise a DataError saying which file was expected."""
    if not os.path.isfile(path):
        raise DataError(f"{what} not found: {path}")
    return path


def read_lines(path: str, what: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline) for the non-blank lines of a file."""
    require_file(path, what)
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield lineno, line


def bad_line(path: str, lineno: int, line: str, why: str) -> DataError:
    """The error for a malformed annotation line: file, line number, the line and the reason."""
    return DataError(f"{path}:{lineno}: {why}: {line!r}")


def parse_label(text: str, num_classes: int, path: str, lineno: int, line: str) -> int:
    """An integer class id in [0, num_classes), or a DataError pointing at the line."""
    try:
        label = int(text)
    except ValueError:
        raise bad_line(path, lineno, line, f"label {text!r} is not an integer") from None
    if not 0 <= label < num_classes:
        raise bad_line(
            path, lineno, line, f"label {label} is outside [0, MODEL.NUM_CLASSES={num_classes})"
        )
    return label


def read_json(path: str, what: str) -> Any:
    """Load a JSON file, with a DataError naming it when it is missing or not valid JSON."""
    require_file(path, what)
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: not valid JSON ({what}): {e}") from None


@dataclass
class FrameListVideo:
    """One video of a frame list: its frame paths in file order and each frame's label ids."""

    name: str
    frames: list[str] = field(default_factory=list)
    frame_labels: list[tuple[int, ...]] = field(default_factory=list)


def read_frame_list(
    path: str, prefix: str, num_classes: int | None = None
) -> dict[str, FrameListVideo]:
    """Parse a PySlowFast frame list (SSv2, Charades) into videos keyed by original_vido_id.

    The file starts with the header ``original_vido_id video_id frame_id path labels``; each
    following line has those five space-separated fields. Frame paths are joined to ``prefix``.
    With ``num_classes`` the ``labels`` field is read as comma-separated class ids (possibly
    quoted, possibly empty ``""``); without it the field is ignored, as SSv2 takes its labels from
    JSON. Videos keep the order in which they first appear; frames keep file order.
    """
    videos: dict[str, FrameListVideo] = {}
    lines = read_lines(path, "frame list")
    first = next(lines, None)
    if first is None:
        raise DataError(f"{path}: the frame list is empty (expected a header line)")
    lineno, header = first
    if not header.startswith("original_vido_id"):
        raise bad_line(path, lineno, header, f"expected the header {FRAME_LIST_HEADER!r}")
    for lineno, line in lines:
        row = line.split()
        if len(row) != 5:
            raise bad_line(path, lineno, line, f"expected 5 space-separated fields, got {len(row)}")
        name, frame_path, label_text = row[0], row[3], row[4].replace('"', "")
        labels: tuple[int, ...] = ()
        if num_classes is not None and label_text:
            labels = tuple(
                parse_label(t, num_classes, path, lineno, line) for t in label_text.split(",")
            )
        video = videos.get(name)
        if video is None:
            video = videos[name] = FrameListVideo(name)
        video.frames.append(os.path.join(prefix, frame_path) if prefix else frame_path)
        video.frame_labels.append(labels)
    return videos
