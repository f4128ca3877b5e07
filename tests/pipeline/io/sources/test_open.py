"""open_source: which spec opens what, and errors that name the item."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise
from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.sources.open import open_source


def _png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image), path
    return path


def _txt_only(d: Path) -> str:
    (d / "only.txt").write_text("x")
    return str(d)


def _not_a_video(d: Path) -> str:
    (d / "notes.md").write_text("hello")
    return str(d / "notes.md")


def _uneven_stereo(d: Path) -> str:
    img = np.zeros((8, 8, 3), np.uint8)
    for p in ("left/0.png", "left/1.png", "right/0.png"):
        _png(d / p, img)
    return str(d)


def _bad_tum_list(d: Path) -> str:
    (d / "rgb.txt").write_text("# header\n1305031102.1 rgb/a.png\nnoon rgb/b.png\n")
    (d / "depth.txt").write_text("1305031102.1 depth/a.png\n")
    return str(d)


def _bad_trajectory(d: Path) -> str:
    for sub in ("color", "depth"):
        (d / sub).mkdir()
    (d / "trajectory.log").write_text("0 0 1\n1 0 0 0\n0 1 0\n0 0 1 0\n0 0 0 1\n")
    return str(d)


@pytest.mark.parametrize(
    "make_spec, options, expectation, names",
    [
        (lambda d: str(d / "missing/clip.mp4"), {}, pytest.raises(FileNotFoundError), "missing/clip.mp4"),
        (lambda d: str(d / "nothing-*.png"), {}, pytest.raises(FileNotFoundError), "nothing-*.png"),
        (_txt_only, {}, pytest.raises(ValueError), "no image files"),
        (lambda d: f"rgbd:{_txt_only(d)}", {}, pytest.raises(ValueError), "not an RGB-D folder"),
        (_not_a_video, {}, pytest.raises(ValueError), "notes.md"),
        (_uneven_stereo, {}, pytest.raises(ValueError), "has 2 images but"),
        (_bad_tum_list, {}, pytest.raises(ValueError), "rgb.txt:3"),
        (_bad_trajectory, {}, pytest.raises(ValueError), "trajectory.log:2"),
        (lambda d: "sample", {"colour": "red"}, pytest.raises(ValueError), "colour"),
        (lambda d: "rtsp://user:secret@127.0.0.1:1/x", {"fps": 3}, pytest.raises(ValueError), "fps"),
        (lambda d: "sample", {"n_frames": 1}, does_not_raise(), None),
        (lambda d: "0", {}, does_not_raise(), None),  # opening happens when read; nothing to fail yet
    ],
)
def test_open_source_errors_name_the_item(tmp_path, make_spec, options, expectation, names):
    spec = make_spec(tmp_path)
    with expectation as exc:
        source = open_source(spec, **options)
        source.close()
    if names:
        assert names in str(exc.value)


def test_url_credentials_are_not_in_the_source_id():
    source = open_source("rtsp://user:secret@127.0.0.1:1/stream")
    assert "secret" not in source.source_id and source.live
