"""Frame-list reading: JPEG frames decoded at a reduced scale keep the full decode's geometry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from slowfast.datasets import frames
from slowfast.datasets.errors import DataError
from slowfast.datasets.frames import FrameListReader, load_image
from slowfast.datasets.transform import resize_short_side


def ramp_image(height: int, width: int, shift: int = 0) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = (x + shift) % 256
    image[..., 1] = y % 256
    image[..., 2] = 128
    return image


@pytest.mark.parametrize(
    "size, short_side, reduced",
    [
        ((240, 320), 64, (120, 160)),  # 240 < 4 x 64: only the 2x reduction keeps 64
        ((240, 320), 112, (120, 160)),
        ((256, 320), 64, (64, 80)),
        ((256, 341), 32, (32, 43)),
        ((240, 320), 160, None),
        ((240, 320), 300, None),
    ],
)
def test_reduced_jpeg_decoding_gives_the_full_decodes_size(
    tmp_path, monkeypatch, size, short_side, reduced
):
    path = str(tmp_path / "frame.jpg")
    cv2.imwrite(path, ramp_image(*size), [cv2.IMWRITE_JPEG_QUALITY, 95])
    full = load_image(path)
    expected = resize_short_side(full[None], short_side)[0]
    # Watch the decode load_image itself runs: its flag and the size libjpeg gave back.
    decodes = []

    def watched(data, flag):
        image = real_imdecode(data, flag)
        decodes.append((flag, image.shape[:2]))
        return image

    real_imdecode = cv2.imdecode
    monkeypatch.setattr(frames.cv2, "imdecode", watched)
    got = load_image(path, short_side)
    monkeypatch.undo()
    assert got.shape == expected.shape
    assert min(got.shape[:2]) == short_side
    # The libjpeg reduction happened exactly when the short side allows 2x or more.
    flag = {
        None: cv2.IMREAD_COLOR,
        2: cv2.IMREAD_REDUCED_COLOR_2,
        4: cv2.IMREAD_REDUCED_COLOR_4,
        8: cv2.IMREAD_REDUCED_COLOR_8,
    }
    factor = None if reduced is None else size[0] // reduced[0]
    assert decodes == [(flag[factor], reduced or size)]
    diff = np.abs(got.astype(int) - expected.astype(int))
    assert diff.mean() < 3.0, diff.mean()  # same content, other filter


def test_png_frames_are_resized_after_a_full_decode(tmp_path):
    path = str(tmp_path / "frame.png")
    image = ramp_image(120, 160)
    cv2.imwrite(path, image)
    np.testing.assert_array_equal(load_image(path, 60), resize_short_side(image[None], 60)[0])


def test_frame_list_reads_at_a_short_side(tmp_path):
    paths = []
    for i in range(4):
        paths.append(str(tmp_path / f"f{i}.jpg"))
        cv2.imwrite(paths[-1], ramp_image(240, 320, shift=40 * i))
    reader = FrameListReader(paths)
    frames = reader.read([3, 0, 3], short_side=60)
    assert frames.shape == (3, 60, 80, 3)
    assert reader.frames_decoded == 2
    # Frame 3's ramp starts 120 levels above frame 0's: the frames come back in the asked order.
    assert abs(int(frames[0, :, 0, 0].mean()) - 120) < 6 and int(frames[1, :, 0, 0].mean()) < 6
    np.testing.assert_array_equal(frames[0], frames[2])


def test_corrupt_jpeg_at_a_short_side_names_the_file(tmp_path):
    path = str(tmp_path / "bad.jpg")
    with open(path, "wb") as f:
        f.write(b"\xff\xd8" + bytes(100))
    with pytest.raises(DataError, match="bad.jpg"):
        load_image(path, 32)
