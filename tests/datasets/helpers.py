"""Helpers shared by the dataset tests: small configs and hand-written frame lists."""

from __future__ import annotations

import os

import cv2
import numpy as np

from slowfast.config import get_cfg, merge_from_list

SIZE = (64, 48)  # width x height of every generated video


def small_cfg(folder: str, dataset: str, num_classes: int, *opts):
    """A config for 64x48 clips: 8 frames, crops of 32, SlowFast with ALPHA 4, then ``opts``."""
    cfg = get_cfg()
    merge_from_list(
        cfg,
        [
            "TRAIN.DATASET",
            dataset,
            "TEST.DATASET",
            dataset,
            "DATA.PATH_TO_DATA_DIR",
            folder,
            "DATA.PATH_PREFIX",
            folder,
            "MODEL.NUM_CLASSES",
            num_classes,
            "DATA.NUM_FRAMES",
            8,
            "DATA.SAMPLING_RATE",
            2,
            "DATA.TARGET_FPS",
            15,
            "DATA.TRAIN_JITTER_SCALES",
            [40, 48],
            "DATA.TRAIN_CROP_SIZE",
            32,
            "DATA.TEST_CROP_SIZE",
            40,
            "SLOWFAST.ALPHA",
            4,
            "TEST.NUM_ENSEMBLE_VIEWS",
            2,
            "TEST.NUM_SPATIAL_CROPS",
            3,
            "TRAIN.BATCH_SIZE",
            4,
            "TEST.BATCH_SIZE",
            6,
            "NUM_GPUS",
            0,
            "DATA_LOADER.NUM_WORKERS",
            0,
            *opts,
        ],
    )
    return cfg


def write_frame_list(root: str, name: str, videos: dict[str, list], labels: bool) -> None:
    """JPEG frames (BGR arrays) under root/frames/<video>/ and the frame list root/<name>.

    ``videos`` maps a video name to its frames as (image, label ids) pairs.
    """
    lines = ["original_vido_id video_id frame_id path labels"]
    for number, (video, frames) in enumerate(videos.items()):
        os.makedirs(os.path.join(root, "frames", video), exist_ok=True)
        for i, (image, frame_labels) in enumerate(frames):
            rel = f"frames/{video}/{video}_{i + 1:06d}.jpg"
            cv2.imwrite(os.path.join(root, rel), image)
            text = ",".join(map(str, frame_labels)) if labels else ""
            lines.append(f'{video} {number} {i} {rel} "{text}"')
    with open(os.path.join(root, name), "w") as f:
        f.write("\n".join(lines) + "\n")


def flat_image(level: int = 90) -> np.ndarray:
    return np.full((48, 64, 3), level, dtype=np.uint8)
