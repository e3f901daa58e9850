"""Bad input: malformed annotations are errors naming file and line; bad videos are skipped in
training (and reported), and are errors in testing unless TEST.SKIP_FAILED_VIDEOS."""

from __future__ import annotations

import logging
import os
import re

import pytest
import torch

from slowfast.datasets import build_dataset
from slowfast.datasets.errors import DataError

from .helpers import flat_image, small_cfg, write_frame_list


def kinetics_folder(tmp_path, data_root, lines_by_split: dict[str, list[str]]) -> str:
    """A Kinetics folder whose CSVs mix the synthetic videos (absolute paths) with given lines."""
    for split, lines in lines_by_split.items():
        (tmp_path / f"{split}.csv").write_text("".join(line + "\n" for line in lines))
    return str(tmp_path)


def good_lines(data_root: str, split: str = "train") -> list[str]:
    folder = os.path.join(data_root, "kinetics")
    with open(os.path.join(folder, f"{split}.csv")) as f:
        return [os.path.join(folder, line) for line in f.read().splitlines()]


@pytest.fixture
def bad_videos(tmp_path):
    corrupt, empty = tmp_path / "corrupt.mp4", tmp_path / "empty.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    empty.write_bytes(b"")
    return str(corrupt), str(empty)


@pytest.fixture
def captured(caplog):
    logger = logging.getLogger("slowfast")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.mark.parametrize(
    "line,why",
    [
        ("videos/train_00001.mp4", r"expected 'path label' \(DATA.PATH_LABEL_SEPARATOR=' '\)"),
        ("videos/train_00001.mp4 three", "label 'three' is not an integer"),
        ("videos/train_00001.mp4 4", r"label 4 is outside \[0, MODEL.NUM_CLASSES=4\)"),
    ],
)
def test_malformed_kinetics_line_names_file_line_and_text(tmp_path, data_root, line, why):
    folder = kinetics_folder(tmp_path, data_root, {"train": good_lines(data_root)[:2] + [line]})
    path = os.path.join(folder, "train.csv")
    pattern = f"{re.escape(path)}:3: {why}: {re.escape(repr(line))}"
    with pytest.raises(DataError, match=pattern):
        build_dataset("kinetics", small_cfg(folder, "kinetics", 4), "train")


def test_missing_csv_and_empty_split(tmp_path, data_root):
    missing = os.path.join(str(tmp_path), "val.csv")
    with pytest.raises(DataError, match=f"annotation file not found: {re.escape(missing)}"):
        build_dataset("kinetics", small_cfg(str(tmp_path), "kinetics", 4), "val")
    folder = kinetics_folder(tmp_path, data_root, {"train": ["", "   "]})
    with pytest.raises(DataError, match="train.csv: no videos in the 'train' split"):
        build_dataset("kinetics", small_cfg(folder, "kinetics", 4), "train")


def test_frame_list_errors(tmp_path):
    root = str(tmp_path)
    write_frame_list(root, "train.csv", {"a": [(flat_image(), (1,))] * 3}, labels=True)
    path = os.path.join(root, "train.csv")
    with open(path, "a") as f:
        f.write("a 0 3 frames/a/a_000004.jpg\n")
    with pytest.raises(DataError, match=re.escape(path) + ":5: expected 5 space-separated"):
        build_dataset("charades", small_cfg(root, "charades", 4), "train")
    with open(path, "w") as f:
        f.write("video frame path\n")
    with pytest.raises(DataError, match=re.escape(path) + ":1: expected the header"):
        build_dataset("charades", small_cfg(root, "charades", 4), "train")


def test_missing_ssv2_label_json(tmp_path, data_root):
    root = str(tmp_path)
    write_frame_list(root, "train.csv", {"a": [(flat_image(), ())] * 3}, labels=False)
    labels = os.path.join(root, "something-something-v2-labels.json")
    with pytest.raises(DataError, match=f"SSv2 label file not found: {re.escape(labels)}"):
        build_dataset("ssv2", small_cfg(root, "ssv2", 4), "train")
    with open(labels, "w") as f:
        f.write('{"Moving something": "0"}')
    split = os.path.join(root, "something-something-v2-train.json")
    with pytest.raises(DataError, match=f"SSv2 split file not found: {re.escape(split)}"):
        build_dataset("ssv2", small_cfg(root, "ssv2", 4), "train")
    with open(split, "w") as f:
        f.write('[{"id": "a", "template": "Turning [something]"}]')
    with pytest.raises(DataError, match="template 'Turning something' is not in"):
        build_dataset("ssv2", small_cfg(root, "ssv2", 4), "train")


def test_training_skips_bad_videos_and_reports_them(tmp_path, data_root, bad_videos, captured):
    corrupt, empty = bad_videos
    lines = good_lines(data_root)[:3] + [f"{corrupt} 1", f"{empty} 2"]
    folder = kinetics_folder(tmp_path, data_root, {"train": lines})
    dataset = build_dataset("kinetics", small_cfg(folder, "kinetics", 4), "train")
    for bad_index, bad_path in ((3, corrupt), (4, empty)):
        for _ in range(5):
            frames, label, index, meta = dataset[bad_index]
            assert meta["skipped"][0] == bad_path
            assert set(meta["skipped"]) <= {corrupt, empty}
            assert index in (0, 1, 2) and meta["video_idx"] == index
            assert frames[1].shape == (3, 8, 32, 32)
    assert any(corrupt in r.getMessage() and r.levelname == "WARNING" for r in captured.records)
    assert any(empty in r.getMessage() for r in captured.records)
    assert dataset[0][3]["skipped"] == []


def test_too_many_failures_in_a_row_is_an_error(tmp_path, data_root, bad_videos):
    corrupt, empty = bad_videos
    folder = kinetics_folder(tmp_path, data_root, {"train": [f"{corrupt} 1", f"{empty} 2"]})
    cfg = small_cfg(folder, "kinetics", 4, "DATA.MAX_LOAD_RETRIES", 2)
    dataset = build_dataset("kinetics", cfg, "train")
    with pytest.raises(DataError, match=r"3 train samples in a row .*MAX_LOAD_RETRIES=2"):
        dataset[0]


def test_missing_frame_file_is_skipped_in_training(tmp_path):
    root = str(tmp_path)
    videos = {"a": [(flat_image(), (1,))] * 4, "b": [(flat_image(), (2,))] * 4}
    write_frame_list(root, "train.csv", videos, labels=True)
    os.remove(os.path.join(root, "frames", "b", "b_000003.jpg"))
    cfg = small_cfg(root, "charades", 4, "DATA.NUM_FRAMES", 4, "DATA.SAMPLING_RATE", 1)
    frames, label, index, meta = build_dataset("charades", cfg, "train")[1]
    assert meta["skipped"][0] == os.path.join(root, "frames", "b") and index == 0


def test_test_split_failure_is_an_error_or_a_marked_item(tmp_path, data_root, bad_videos):
    corrupt, _ = bad_videos
    lines = good_lines(data_root, "test")[:1] + [f"{corrupt} 3"]
    folder = kinetics_folder(tmp_path, data_root, {"test": lines})
    dataset = build_dataset("kinetics", small_cfg(folder, "kinetics", 4), "test")
    assert dataset[0][3]["failed"] is False
    with pytest.raises(DataError, match=f"test video {re.escape(corrupt)} could not be loaded"):
        dataset[6]
    cfg = small_cfg(folder, "kinetics", 4, "TEST.SKIP_FAILED_VIDEOS", True)
    dataset = build_dataset("kinetics", cfg, "test")
    for index in range(6, 12):
        frames, label, returned, meta = dataset[index]
        assert meta == {"video_idx": 1, "skipped": [], "failed": True}
        assert (label, returned) == (3, index)
        assert [tuple(f.shape) for f in frames] == [(3, 2, 40, 40), (3, 8, 40, 40)]
        assert all(torch.count_nonzero(f) == 0 for f in frames)
