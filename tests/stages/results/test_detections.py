"""Detections validate on construction and say what was expected."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from sensorium.stages.results import Detections

@pytest.mark.parametrize("kwargs, expectation", [
    (dict(boxes=np.zeros((2, 4)), scores=np.zeros(2), class_id=np.zeros(2, int)), does_not_raise()),
    (dict(boxes=np.zeros((2, 5)), scores=np.zeros(2), class_id=np.zeros(2, int)), pytest.raises(ValueError, match=r"boxes: expected shape \(N, 4\), got \(2, 5\)")),
    (dict(boxes=np.zeros((2, 4)), scores=np.zeros(3), class_id=np.zeros(2, int)), pytest.raises(ValueError, match="expected 2 items")),
    (dict(boxes=np.zeros((2, 4)), scores=np.zeros(2)), pytest.raises(ValueError, match="class_id is required")),
    (dict(boxes=np.zeros((2, 4)), scores=np.zeros(2), class_id=np.zeros(2, int), data={"x": np.zeros(3)}), pytest.raises(ValueError, match=r"data\['x'\]")),
    (dict(boxes=np.full((1, 4), "a"), scores=np.zeros(1), class_id=np.zeros(1, int)), pytest.raises(ValueError, match="dtype")),
])
def test_detections_validate_on_construction(kwargs, expectation):
    with expectation:
        Detections(**kwargs)
