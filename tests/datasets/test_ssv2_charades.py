"""SSv2 and Charades annotation parsing, read directly: labels through the template file,
bracketed templates, videos without frames left out, per-clip multi-hot Charades labels, and
errors that name the file and the entry."""

from __future__ import annotations

import json
import logging
import os

import pytest

from slowfast.datasets.charades import Charades
from slowfast.datasets.errors import DataError
from slowfast.datasets.ssv2 import Ssv2
from slowfast.datasets.video_dataset import AnnotationSource

from .helpers import flat_image, write_frame_list

LABELS = {"Pushing something left": "0", "Pushing something right": "1", "Tearing something": "2"}


def _ssv2(root, entries, frames, labels=LABELS, split_file="train"):
    write_frame_list(
        str(root),
        "train.csv" if split_file == "train" else "val.csv",
        {v: [(flat_image(), ())] * n for v, n in frames.items()},
        labels=False,
    )
    (root / "something-something-v2-labels.json").write_text(json.dumps(labels))
    name = "train" if split_file == "train" else "validation"
    (root / f"something-something-v2-{name}.json").write_text(json.dumps(entries))
    return AnnotationSource(str(root), str(root), num_classes=3)


def test_ssv2_labels_come_from_the_templates_in_json_order(tmp_path, caplog):
    entries = [
        {"id": "v2", "template": "Tearing [something]"},
        {"id": "v0", "template": "Pushing [something] left"},
        {"id": "v9", "template": "Pushing [something] right"},  # no frames: left out
        {"id": "v1", "template": "Pushing [something] right"},
    ]
    source = _ssv2(tmp_path, entries, {"v0": 3, "v1": 4, "v2": 5})
    caplog.set_level(logging.WARNING)
    records, path = Ssv2.read_annotations("train", source)
    assert path == os.path.join(str(tmp_path), "something-something-v2-train.json")
    assert [(os.path.basename(r.name), r.label, len(r.frames)) for r in records] == [
        ("v2", 2, 5),
        ("v0", 0, 3),
        ("v1", 1, 4),
    ]
    assert records[1].frames[0] == os.path.join(str(tmp_path), "frames/v0/v0_000001.jpg")
    assert "1 of the 4 videos" in caplog.text and "v9" in caplog.text


def test_ssv2_val_and_test_read_the_validation_files(tmp_path):
    entries = [{"id": "v0", "template": "Tearing [something]"}]
    source = _ssv2(tmp_path, entries, {"v0": 2}, split_file="val")
    for split in ("val", "test"):
        records, path = Ssv2.read_annotations(split, source)
        assert path.endswith("something-something-v2-validation.json")
        assert [r.label for r in records] == [2]


@pytest.mark.parametrize(
    "entries,labels,message",
    [
        ([{"id": "v0"}], LABELS, r"train.json: entry 0 needs 'id' and 'template'"),
        (
            [{"id": "v0", "template": "Folding [something]"}],
            LABELS,
            r"video v0: template 'Folding something' is not in .*labels.json",
        ),
        ([{"id": "v0", "template": "Tearing [something]"}], {"Tearing something": "x"}, "not an"),
        (
            [{"id": "v0", "template": "Tearing [something]"}],
            {"Tearing something": "7"},
            r"class id 7 of 'Tearing something' is outside \[0, MODEL.NUM_CLASSES=3\)",
        ),
        ({"id": "v0"}, LABELS, r"train.json: expected a JSON list of videos"),
    ],
)
def test_ssv2_errors_name_the_file_and_the_entry(tmp_path, entries, labels, message):
    source = _ssv2(tmp_path, entries, {"v0": 2}, labels=labels)
    with pytest.raises(DataError, match=message):
        Ssv2.read_annotations("train", source)


def _charades(root):
    # Video a: frames labelled {} {1} {1,3} {} ; video b: {0} on every frame.
    write_frame_list(
        str(root),
        "train.csv",
        {
            "a": [
                (flat_image(), ()),
                (flat_image(), (1,)),
                (flat_image(), (1, 3)),
                (flat_image(), ()),
            ],
            "b": [(flat_image(), (0,))] * 3,
        },
        labels=True,
    )
    return AnnotationSource(str(root), str(root), num_classes=4)


def test_charades_videos_carry_every_action_and_frames_their_own(tmp_path):
    records, _ = Charades.read_annotations("train", _charades(tmp_path))
    assert [(os.path.basename(r.name), r.label) for r in records] == [("a", (1, 3)), ("b", (0,))]
    assert records[0].frame_labels == ((), (1,), (1, 3), ())


def test_charades_training_clips_get_the_actions_of_the_frames_they_span(tmp_path):
    records, _ = Charades.read_annotations("train", _charades(tmp_path))
    train = Charades.__new__(Charades)  # parsing only: the clip-label rule, no decoding
    train.records, train.split = records, "train"
    assert train.clip_label(0, [0]) == ()
    assert train.clip_label(0, [0, 1]) == (1,)
    assert train.clip_label(0, [3, 1]) == (1, 3)  # the span from the first to the last frame
    assert train.clip_label(1, [2]) == (0,)
    test = Charades.__new__(Charades)
    test.records, test.split = records, "test"
    assert test.clip_label(0, [0]) == (1, 3)  # evaluation: every action of the video


def test_charades_labels_outside_the_class_count_are_refused(tmp_path):
    write_frame_list(str(tmp_path), "train.csv", {"a": [(flat_image(), (5,))]}, labels=True)
    with pytest.raises(DataError, match=r"train.csv"):
        Charades.read_annotations("train", AnnotationSource(str(tmp_path), "", num_classes=4))
