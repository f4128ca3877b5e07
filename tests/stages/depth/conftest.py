"""Shared depth test data: Middlebury Motorcycle (scikit-image's bundled copy)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def motorcycle() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left RGB, right RGB, ground-truth disparity with inf = unknown), 741 x 500, 7-60 px."""
    from skimage import data as skdata

    return skdata.stereo_motorcycle()
