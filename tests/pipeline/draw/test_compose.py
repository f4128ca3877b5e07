"""Annotators compose: a list applied in order, later ones over earlier ones."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from sensorium.pipeline.draw.boxes import BoxAnnotator, LabelAnnotator
from sensorium.pipeline.draw.compose import Annotator, Compose, check_image
from sensorium.stages.results import Detections
from tests.pipeline.draw.conftest import Fill, changed


def test_annotators_run_in_order():
    img = np.zeros((20, 20, 3), np.uint8)
    out = Compose((Fill((1, 2, 3)), Fill((4, 5, 6)))).annotate(img, None)
    assert out is img and tuple(out[0, 0]) == (4, 5, 6)


def test_box_and_label_compose_to_both(zidane):
    det = Detections(boxes=np.array([[100, 100, 300, 400]], np.float32), scores=np.ones(1, np.float32),
                     class_id=np.zeros(1, np.int64), class_names=("person",))
    both = Compose([BoxAnnotator(), LabelAnnotator()]).annotate(zidane.copy(), det)
    box = BoxAnnotator().annotate(zidane.copy(), det)
    assert changed(both, zidane, (100, 70, 300, 98)) > 200 and changed(box, zidane, (100, 70, 300, 98)) == 0
    assert isinstance(BoxAnnotator(), Annotator)


@pytest.mark.parametrize("image, expectation", [
    (np.zeros((4, 4, 3), np.uint8), does_not_raise()),
    (np.zeros((4, 4, 4), np.uint8), pytest.raises(ValueError, match=r"expected \(H, W, 3\) uint8 RGB image, got \(4, 4, 4\) uint8")),
    (np.zeros((4, 4, 3), np.float32), pytest.raises(ValueError, match="float32")),
    (np.zeros((4, 8, 3), np.uint8)[:, ::2], pytest.raises(ValueError, match="contiguous")),
    ([[0, 0, 0]], pytest.raises(ValueError, match="got list")),
])
def test_images_are_checked(image, expectation):
    with expectation:
        check_image(image)


def test_only_annotators_compose():
    with pytest.raises(ValueError, match="got str"):
        Compose((BoxAnnotator(), "boxes"))
