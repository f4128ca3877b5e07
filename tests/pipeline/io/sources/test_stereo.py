"""Stereo folders, pairs of folders and side-by-side frames on real chessboard pairs."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise
from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.sources.base import SourceState
from sensorium.pipeline.io.sources.open import open_source, open_stereo
from sensorium.pipeline.io.sources.stereo import SideBySideSource, StereoSource
from sensorium.stages.camera import StereoCalibration


def test_stereo_folder_pairs_left_and_right_with_its_calibration(data_dir, stereo_folder, read_all):
    source = open_source(str(stereo_folder))
    assert isinstance(source, StereoSource)
    frames = read_all(source)

    assert [f.seq for f in frames] == [0, 1, 2]
    for i, f in enumerate(frames, 1):
        left = cv2.imread(str(data_dir / f"stereo/chessboard/left{i:02d}.jpg"), cv2.IMREAD_GRAYSCALE)
        right = cv2.imread(str(data_dir / f"stereo/chessboard/right{i:02d}.jpg"), cv2.IMREAD_GRAYSCALE)
        assert np.array_equal(f.image[..., 0], left) and np.array_equal(f.right[..., 0], right)
        assert isinstance(f.calib, StereoCalibration) and f.calib.baseline == pytest.approx(0.06)
        assert Path(f.meta["path"]).parent.name == "left" and Path(f.meta["right_path"]).parent.name == "right"
    assert source.state is SourceState.ENDED


@pytest.mark.parametrize("with_calib", [True, False])
def test_two_folders_paired_by_index(stereo_folder, with_calib, read_all):
    calib = stereo_folder / "calib.yaml" if with_calib else None
    frames = read_all(open_stereo(str(stereo_folder / "left"), str(stereo_folder / "right"), calib=calib))

    assert len(frames) == 3 and all(f.ok and f.right is not None for f in frames)
    assert all((f.calib is not None) == with_calib for f in frames)  # no calibration = taken as rectified


@pytest.mark.parametrize(
    "call, expectation, names",
    [
        (lambda d: open_stereo(str(d / "left"), str(d / "right"), calib=d / "missing.yaml"), pytest.raises(FileNotFoundError), "missing.yaml"),
        (lambda d: open_stereo(str(d), calib=d / "nope.yml"), pytest.raises(FileNotFoundError), "nope.yml"),
        (lambda d: open_stereo(str(d / "left"), side_by_side=True, calib=d / "gone.json"), pytest.raises(FileNotFoundError), "gone.json"),
        (lambda d: open_stereo(str(d), calib=d / "calib.yaml"), does_not_raise(), None),
    ],
)
def test_missing_calibration_file_fails_at_open_naming_it(stereo_folder, call, expectation, names):
    with expectation as exc:
        call(stereo_folder)
    if names:
        assert names in str(exc.value)


def test_opencv_image_list_is_not_taken_for_a_calibration(data_dir, stereo_folder):
    with pytest.raises(ValueError, match="stereo_calib.xml"):
        open_stereo(str(stereo_folder), calib=data_dir / "stereo/chessboard/stereo_calib.xml")


def test_side_by_side_frames_split_in_halves(data_dir, tmp_path, read_all, write_png, rectified_calib):
    left = cv2.imread(str(data_dir / "stereo/chessboard/left01.jpg"))
    right = cv2.imread(str(data_dir / "stereo/chessboard/right01.jpg"))
    write_png(tmp_path / "sbs/0.png", np.hstack([left, right]))
    write_png(tmp_path / "sbs/1.png", np.zeros((480, 1281, 3), np.uint8))  # odd width: cannot split
    write_png(tmp_path / "sbs/2.png", np.hstack([right, left]))
    calib = rectified_calib(tmp_path / "calib.yaml")

    source = open_stereo(str(tmp_path / "sbs"), side_by_side=True, calib=calib)
    assert isinstance(source, SideBySideSource)
    frames = read_all(source)

    assert [f.seq for f in frames] == [0, 1, 2]
    assert np.array_equal(frames[0].image, cv2.cvtColor(left, cv2.COLOR_BGR2RGB))
    assert np.array_equal(frames[0].right, cv2.cvtColor(right, cv2.COLOR_BGR2RGB))
    assert np.array_equal(frames[2].image, cv2.cvtColor(right, cv2.COLOR_BGR2RGB))
    assert frames[0].calib.width == 640
    assert frames[1].image is None and "1.png" in frames[1].errors["source"] and "odd" in frames[1].errors["source"]
