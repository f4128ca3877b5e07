"""The per-item base: mask, index and slice selection, merge."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.results import Detections
from tests.stages.results.conftest import detections


def test_indexing_by_mask_index_and_slice():
    d = detections(4)
    assert len(d) == 4
    m = d[np.array([True, False, True, False])]
    assert len(m) == 2 and np.array_equal(m.boxes, d.boxes[[0, 2]]) and list(m.data["track"]) == [10, 12]
    assert len(d[1]) == 1 and len(d[1:3]) == 2 and len(d[[3, 0]]) == 2
    assert m.class_names == d.class_names and m.metadata == d.metadata
    with pytest.raises(ValueError, match="boolean mask"):
        d[np.array([True, False])]


def test_merge_concatenates_and_checks_fields():
    a, b = detections(2), detections(3)
    m = Detections.merge([a, b])
    assert len(m) == 5 and np.array_equal(m.scores, np.concatenate([a.scores, b.scores]))
    assert len(Detections.merge([])) == 0
    with pytest.raises(ValueError, match="data keys differ"):
        Detections.merge([a, Detections(boxes=b.boxes, scores=b.scores, class_id=b.class_id)])
