"""The annotate sink's names over the drawing package: ``annotate``, ``colorize_depth``,
``primary_depth``, ``frame_annotator`` and overlays registered for new result kinds."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise
from pathlib import Path

import numpy as np
import pytest

from sensorium.pipeline.draw import FrameAnnotator
from sensorium.pipeline.io.sinks import annotate as ann
from sensorium.pipeline.io.sinks.annotate import OVERLAYS, annotate, colorize_depth, frame_annotator, primary_depth, register_overlay
from sensorium.stages.frame import Frame
from sensorium.stages.results import Detections, Embeddings
from tests.pipeline.io.sinks.conftest import K, load_rgbd, make_depth

@pytest.fixture(scope="module")
def rgbd(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    image, depth, _ = load_rgbd(data_dir / "rgbd" / "redwood", 0)
    return image, depth


def test_colorize_depth_keeps_its_signature(rgbd):
    _, depth = rgbd
    out = colorize_depth(depth)
    assert out.shape == (*depth.shape, 3) and out.dtype == np.uint8
    assert np.all(out[depth == 0] == 0) and np.all(out[depth > 0].max(axis=-1) > 0)
    ramp = np.tile(np.linspace(0.5, 3.0, 64, dtype=np.float32), (4, 1))
    col = colorize_depth(ramp, max_depth=3.0)
    near, far = col[0, 0].astype(int), col[0, -1].astype(int)
    assert near[0] > near[2] and far[2] > far[0]  # near is red, far is blue


@pytest.mark.parametrize(
    "depth, max_depth, expectation",
    [
        (np.ones((3, 4), np.float32), None, does_not_raise()),
        (np.ones((3, 4), np.uint16), 2.0, does_not_raise()),
        (np.ones((3, 4, 1), np.float32), None, pytest.raises(ValueError, match=r"\(H, W\)")),
        (np.ones((3, 4), np.float32), 0.0, pytest.raises(ValueError, match="max_depth")),
    ],
)
def test_colorize_depth_validates(depth, max_depth, expectation):
    with expectation:
        colorize_depth(depth, max_depth)


def test_annotate_draws_one_frame_on_its_own(rgbd):
    image, depth = rgbd
    np.testing.assert_array_equal(annotate(Frame("cam", 0, image=image)), image)
    frame = Frame("cam", 0, image=image, results={"depth": make_depth(image, depth, K)})
    with_depth = annotate(frame)
    assert with_depth.shape == (480, 1280, 3)
    np.testing.assert_array_equal(with_depth[:, :640], image)
    np.testing.assert_array_equal(with_depth[:, 640:1100], colorize_depth(depth)[:, :460])  # left of the colour bar
    # a pinned far end changes the colours: the far wall is no longer the blue end
    pinned = annotate(frame, max_depth=20.0)
    assert np.any(pinned[:, 640:1100] != with_depth[:, 640:1100])
    np.testing.assert_array_equal(pinned[:, 640:1100], colorize_depth(depth, 20.0)[:, :460])
    no_image = annotate(Frame("cam", 0, errors={"source": "cam#0: cannot decode frame"}))
    assert no_image.shape == (*ann.BLANK_SHAPE, 3) and (no_image[..., 0] > 200).sum() > 50


def test_primary_depth_is_the_drawing_packages(rgbd):
    image, depth = rgbd
    d = make_depth(image, depth, K)
    assert primary_depth(Frame("cam", 0, results={"stereo": d})) == ("stereo", d)


def test_unknown_kinds_are_ignored_and_registered_overlays_draw(rgbd):
    image, _ = rgbd
    emb = Embeddings(vectors=np.eye(2, 4, dtype=np.float32))
    assert "embeddings" not in OVERLAYS
    np.testing.assert_array_equal(annotate(Frame("cam", 0, image=image, results={"clip": emb})), image)

    @register_overlay("embeddings")
    def fill_corner(img: np.ndarray, result: Embeddings) -> None:
        img[:10, :10] = (1, 2, 3)

    try:
        out = annotate(Frame("cam", 0, image=image, results={"clip": emb}))
        assert np.all(out[:10, :10] == (1, 2, 3)) and np.array_equal(out[10:], image[10:])
        streamed = frame_annotator()
        assert isinstance(streamed, FrameAnnotator)
        assert np.all(streamed(Frame("cam", 0, image=image, results={"clip": emb}))[:10, :10] == (1, 2, 3))
        with pytest.raises(ValueError, match="registered twice"):
            register_overlay("embeddings")(fill_corner)
    finally:
        del OVERLAYS["embeddings"]
    with pytest.raises(ValueError, match="'detections' registered twice"):
        register_overlay(Detections.kind)(fill_corner)


def test_a_failing_overlay_reports_instead_of_raising(rgbd):
    image, _ = rgbd

    @register_overlay("embeddings")
    def broken(img: np.ndarray, result: Embeddings) -> None:
        raise RuntimeError("bad drawing")

    try:
        out = annotate(Frame("cam", 0, image=image, results={"clip": Embeddings(vectors=np.eye(1, 4, dtype=np.float32))}))
        assert out.shape == image.shape
        assert np.any(out[:40] != image[:40])  # the failure is written on the frame
    finally:
        del OVERLAYS["embeddings"]
