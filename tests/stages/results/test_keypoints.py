"""Keypoints check xy against sigma."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.results import Keypoints

def test_keypoints_need_matching_sigma():
    with pytest.raises(ValueError, match="differ|expected"):
        Keypoints(xy=np.zeros((1, 17, 2)), sigma=np.zeros((1, 16, 2)))
