"""Keypoints check xy against sigma."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.results import Keypoints

def test_keypoints_need_matching_sigma():
    with pytest.raises(ValueError, match="differ|expected"):
        Keypoints(xy=np.zeros((1, 17, 2)), sigma=np.zeros((1, 16, 2)))


def test_keypoints_without_a_trained_head_carry_no_sigma():
    """sigma None (no head loaded) survives the JSON round trip as null, never as invented numbers."""
    import json

    k = Keypoints(xy=np.ones((2, 33, 2)), scores=np.ones((2, 33)))
    d = json.loads(json.dumps(k.to_dict()))
    assert k.sigma is None and "sigma" in d and d["sigma"] is None
    back = Keypoints.from_dict(d)
    assert back.sigma is None and back.xy.shape == (2, 33, 2) and len(back[[True, False]]) == 1
