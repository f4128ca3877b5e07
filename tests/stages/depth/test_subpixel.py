"""Sub-pixel refit at full resolution: constructed pairs with a known, non-integer disparity."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import cv2
import numpy as np
import pytest

from sensorium.stages.depth.subpixel import refine_subpixel


def _pair(disparity: np.ndarray, seed: int = 0, gain: float = 1.0, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random texture as the left view and the right view it implies (``x_r = x_l - d``).

    The right image is the left one resampled: ``right(x_r) = left(x_l)`` where ``x_l = x_r +
    d(x_l)`` (solved by fixed-point iteration; d varies slowly); ``gain``/``offset`` change its
    brightness.
    """
    h, w = disparity.shape
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (h, w + 64)).astype(np.float32), (0, 0), 1.2)
    xs = np.arange(w, dtype=np.float32)[None, :].repeat(h, 0)
    ys = np.arange(h, dtype=np.float32)[:, None].repeat(w, 1)
    left = texture[:, 32:32 + w]
    xl = xs + disparity
    for _ in range(10):
        xl = xs + cv2.remap(disparity, xl, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    right = cv2.remap(texture, xl + 32, ys, cv2.INTER_CUBIC)
    def u8(a: np.ndarray) -> np.ndarray:
        return np.clip(a, 0, 255).astype(np.uint8)
    return u8(left), u8(right * gain + offset)


def _slanted(h: int = 60, w: int = 120) -> np.ndarray:
    """A slanted plane, 10.1 to 17.4 px, continuous (most pixels between integer disparities)."""
    return (10.1 + 6.0 * np.linspace(0, 1, w, dtype=np.float32)[None, :] + 1.3 * np.linspace(0, 1, h, dtype=np.float32)[:, None])


@pytest.mark.parametrize("gain, offset", [(1.0, 0.0), (0.8, 20.0)])
def test_refit_recovers_the_sub_pixel_part(gain: float, offset: float) -> None:
    """A disparity off by 0.4 px in patches (a half-size match upsampled) comes back to about a tenth,
    with a brighter or darker right camera too (the cost is on gradients)."""
    truth = _slanted()
    left, right = _pair(truth, gain=gain, offset=offset)
    # a half-size match upsampled is off by up to a pixel in patches; within the refit's band here
    coarse = truth + np.where((np.arange(truth.shape[1]) // 16) % 2 == 0, 0.4, -0.4).astype(np.float32)[None, :]
    inner = (slice(8, -8), slice(24, -8))  # away from the borders (the box and the warp's edge)
    refined = refine_subpixel(left, right, coarse)
    before = np.abs(coarse - truth)[inner].mean()
    after = np.abs(refined - truth)[inner].mean()
    assert before > 0.3 and after < 0.35 * before  # measured 0.40 -> 0.12 px (0.08 away from the patch seams)
    assert np.abs(refined - coarse).max() <= 0.5 + 1e-6  # never further than the band


def test_unknown_pixels_and_flat_patches_stay_as_they_are() -> None:
    truth = np.full((40, 80), 12.25, np.float32)
    left, right = _pair(truth)
    coarse = np.full_like(truth, 12.0)
    coarse[:, :10] = -1.0  # unknown
    coarse[5, 40] = 0.0  # also unknown: a refit must not make it known
    refined = refine_subpixel(left, right, coarse)
    assert (refined[:, :10] == -1).all() and refined[5, 40] == 0
    flat = np.full((40, 80), 128, np.uint8)
    assert np.allclose(refine_subpixel(flat, flat, np.full((40, 80), 7.0, np.float32)), 7.0)  # nothing to fit: no move


@pytest.mark.parametrize(
    "left, right, disparity, kwargs, expectation",
    [
        (np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), np.ones((8, 8), np.float32), {}, does_not_raise()),
        (np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8), np.ones((8, 8), np.float32), {},
         pytest.raises(ValueError, match=r"\(H, W\) uint8 grey.*\(8, 8, 3\)")),
        (np.zeros((8, 8), np.uint8), np.zeros((8, 9), np.uint8), np.ones((8, 8), np.float32), {}, pytest.raises(ValueError, match="one shape")),
        (np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), np.ones((4, 4), np.float32), {}, pytest.raises(ValueError, match=r"disparity \(4, 4\)")),
        (np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), np.ones((8, 8), np.float32), {"window": 4}, pytest.raises(ValueError, match="odd window")),
        (np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), np.ones((8, 8), np.float32), {"max_shift": 0}, pytest.raises(ValueError, match="max_shift")),
    ],
)
def test_bad_input(left, right, disparity, kwargs, expectation) -> None:
    with expectation:
        refine_subpixel(left, right, disparity, **kwargs)

