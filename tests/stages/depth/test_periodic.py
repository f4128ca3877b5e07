"""The periodic-texture guard of the full-size LR check (periodic.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.depth import periodic
from sensorium.stages.depth.periodic import MIN_SHIFT, RADIUS, repeats


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


def _repeats_by_definition(left, right, disp, ys, xs, max_shift, factor=1.0):
    """The module docstring's test, one pixel at a time: mean absolute difference over the 3 x 7 window
    (edge-replicated) at the stereo match, and the least one over self-shifts MIN_SHIFT..max_shift."""
    pad = max_shift + RADIUS + 1
    pl, pr = (np.pad(img, ((1, 1), (pad, pad)), mode="edge").astype(np.int32) for img in (left, right))

    def window(img, y, x):
        return img[y:y + 3, x + pad - RADIUS:x + pad + RADIUS + 1]

    out = []
    for y, x in zip(ys, xs):
        own = np.abs(window(pl, y, x) - window(pr, y, x - int(np.rint(disp[y, x])))).mean()
        shifts = [s for s in range(-max_shift, max_shift + 1) if abs(s) >= MIN_SHIFT]
        best = min(np.abs(window(pl, y, x) - window(pl, y, x + s)).mean() for s in shifts)
        out.append(best <= factor * own + 1.0)
    return np.array(out)


@pytest.mark.parametrize("factor, chunk", [(1.0, periodic.CHUNK), (2.0, periodic.CHUNK), (1.0, 7)])
def test_repeats_is_its_definition_at_every_pixel_and_border(factor: float, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The all-pixels-at-once computation against the per-pixel definition: random pixels, the
    image's corners and borders, a texture with and without repeats (about half the pixels
    repeat); in one pass and in passes of 7 pixels."""
    monkeypatch.setattr(periodic, "CHUNK", chunk)
    rng = np.random.default_rng(1)
    h, w = 24, 90
    tile = rng.integers(0, 255, (h, 15), dtype=np.uint8)
    noisy = np.arange(w) >= w // 2  # repeats on the left half, noise on the right
    texture = np.tile(tile, (1, w // 15)) // 2 + rng.integers(0, 128, (h, w), dtype=np.uint8) * noisy
    left, right, disp = _pair(texture.astype(np.uint8), 5)
    disp = disp + rng.integers(-3, 4, disp.shape).astype(np.float32) * (rng.random(disp.shape) < 0.2)  # a fifth wrong
    ys = np.r_[rng.integers(0, h, 60), 0, 0, h - 1, h - 1, 5]
    xs = np.r_[rng.integers(0, w, 60), 0, w - 1, 0, w - 1, 44]
    got = repeats(left, right, disp, ys, xs, max_shift=20, factor=factor)
    expected = _repeats_by_definition(left, right, disp, ys, xs, 20, factor)
    assert 0.2 < expected.mean() < 0.8, expected.mean()
    np.testing.assert_array_equal(got, expected)
