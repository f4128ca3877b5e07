"""The periodic-texture guard of the full-size LR check (periodic.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.depth.periodic import repeats


def _pair(texture: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fronto-parallel pair at disparity ``d``: right = left shifted by d."""
    left = texture
    right = np.roll(texture, -d, axis=1)
    return left, right, np.full(texture.shape, float(d), np.float32)


def test_a_repeating_pattern_repeats_and_random_texture_does_not() -> None:
    rng = np.random.default_rng(0)
    h, w = 40, 200
    stripes = np.tile(rng.integers(0, 255, (h, 20), dtype=np.uint8), (1, w // 20))  # period 20 px
    noise = rng.integers(0, 255, (h, w), dtype=np.uint8)
    ys, xs = np.full(30, 20), np.arange(80, 110)
    for texture, expected in ((stripes, True), (noise, False)):
        left, right, disp = _pair(texture, 10)
        assert (repeats(left, right, disp, ys, xs, max_shift=64) == expected).all()
    # a repeat beyond the search range is no ambiguity
    left, right, disp = _pair(stripes, 10)
    assert not repeats(left, right, disp, ys, xs, max_shift=16).any()


def test_repeats_refuses_mismatched_shapes() -> None:
    a = np.zeros((20, 30), np.uint8)
    with pytest.raises(ValueError, match=r"expected two \(H, W\) grey images"):
        repeats(a, np.zeros((20, 31), np.uint8), np.zeros((20, 30), np.float32), np.array([1]), np.array([1]), 16)
