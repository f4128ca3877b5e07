"""Rendered articulated figures with exact keypoints: the generated half of the pose heads' data.

A 2-D body facing the camera (its right side on the image's left) built from random joint angles:
a torso of random lean, a head on a neck, two arms and two legs of two segments each, limbs of
random width and clothing colour, skin-coloured head and hands, a face mark so up and down are
visible. Figures vary in scale and position (some run off the border: truncation), lie over
textured backgrounds with clutter, and are blurred, noised and partly covered by an occluder.

Ground truth is exact: the keypoints are the joints the limbs are drawn between (continuous pixel
coordinates, pixel i covers [i, i+1)). A keypoint is *visible* when it lies inside the image and
no occluder covers it; an occluded keypoint keeps its exact position (the model is still asked for
it), one outside the image is not labelled (``inside`` False). Every crop is a pure function of
(seed, index).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

KEYPOINTS = (
    "head", "neck",
    "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
)
#: limbs drawn as thick segments: (from, to) keypoint indices
LIMBS = ((1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (8, 9), (9, 10), (11, 12), (12, 13), (8, 11))
#: the horizontal mirror's keypoint permutation (right <-> left)
FLIP = (0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10)
SHIFT = 4  # cv2 sub-pixel drawing: coordinates in 1/16 px


@dataclass(frozen=True)
class FiguresConfig:
    """size: crop side (pixels); height: figure height as a share of the crop (min, max);
    truncation: chance the figure is pushed partly off the border; occlusion: chance of an
    occluding block; blur: Gaussian sigma range; clutter: background distractors; noise sigma range."""

    size: int = 64
    height: tuple[float, float] = (0.55, 0.95)
    truncation: float = 0.2
    occlusion: float = 0.35
    blur: tuple[float, float] = (0.0, 1.5)
    clutter: int = 12
    noise: tuple[float, float] = (0.0, 10.0)


@dataclass(frozen=True)
class FigureSample:
    """image (S, S, 3) uint8 RGB; keypoints (K, 2) float32 crop pixels; visible (K,) bool (inside and
    not occluded); inside (K,) bool (inside the crop: labelled); mask (S, S) bool: figure pixels
    before occlusion (what the keypoints lie on)."""

    image: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray
    inside: np.ndarray
    mask: np.ndarray


def _polar(origin: np.ndarray, angle: float, length: float) -> np.ndarray:
    """The point ``length`` from ``origin`` at ``angle`` (radians, 0 = down the image, positive toward +x)."""
    return origin + length * np.array([np.sin(angle), np.cos(angle)])


def skeleton(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Joint positions (K, 2) of a unit-height figure (pelvis at the origin, y down) and its lean."""
    lean = rng.normal(0, 0.15)
    torso, shoulder, hip = rng.uniform(0.28, 0.34), rng.uniform(0.09, 0.13), rng.uniform(0.06, 0.09)
    up = np.pi + lean  # angle pointing up the image
    neck = _polar(np.zeros(2), up, torso)
    across = np.array([np.cos(lean), -np.sin(lean)])  # toward +x, perpendicular to the spine
    kp = np.zeros((len(KEYPOINTS), 2))
    kp[1], kp[0] = neck, _polar(neck, up + rng.normal(0, 0.15), rng.uniform(0.1, 0.13))
    upper, fore, thigh, shin = rng.uniform(0.14, 0.18), rng.uniform(0.13, 0.16), rng.uniform(0.2, 0.25), rng.uniform(0.19, 0.23)
    for side, (s, e, w), (h, k, a) in ((-1, (2, 3, 4), (8, 9, 10)), (1, (5, 6, 7), (11, 12, 13))):
        kp[s] = neck + side * shoulder * across
        arm = lean + side * rng.uniform(0.1, 2.6)  # from hanging down to raised overhead
        kp[e] = _polar(kp[s], arm, upper)
        kp[w] = _polar(kp[e], arm + side * rng.uniform(-0.3, 2.2), fore)
        kp[h] = side * hip * across
        leg = lean + side * rng.uniform(-0.05, 0.7)
        kp[k] = _polar(kp[h], leg, thigh)
        kp[a] = _polar(kp[k], leg - side * rng.uniform(0.0, 1.2), shin)
    return kp, lean


def _background(rng: np.random.Generator, cfg: FiguresConfig) -> np.ndarray:
    s = cfg.size
    img = np.empty((s, s, 3), np.float32)
    img[:] = rng.uniform(0, 255, 3)
    img += cv2.GaussianBlur(rng.normal(0, 35, (s, s, 3)).astype(np.float32), (0, 0), rng.uniform(1, 5))
    for _ in range(int(rng.integers(0, cfg.clutter + 1))):  # lines and blobs, never a stick figure
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        if rng.random() < 0.6:
            p1, p2 = rng.uniform(0, s, 2), rng.uniform(0, s, 2)
            cv2.line(img, tuple(int(c) for c in p1), tuple(int(c) for c in p2), colour, int(rng.integers(1, 4)), cv2.LINE_AA)
        else:
            cv2.circle(img, tuple(int(c) for c in rng.uniform(0, s, 2)), int(rng.integers(2, s // 6)), colour, -1, cv2.LINE_AA)
    return img


def _place(rng: np.random.Generator, unit: np.ndarray, cfg: FiguresConfig) -> tuple[np.ndarray, float]:
    """Scale and translate a unit figure into the crop; with probability ``truncation`` push it past a border."""
    s = cfg.size
    scale = rng.uniform(*cfg.height) * s
    pts = unit * scale
    lo, hi = pts.min(0), pts.max(0)
    margin = 2.0
    offset = np.array([rng.uniform(margin - lo[i], max(margin - lo[i], s - margin - hi[i])) for i in range(2)])
    if rng.random() < cfg.truncation:
        axis, sign = int(rng.integers(2)), rng.choice([-1, 1])
        offset[axis] += sign * rng.uniform(0.15, 0.4) * scale
    return pts + offset, scale


def _draw_figure(img: np.ndarray, mask: np.ndarray, kp: np.ndarray, scale: float, rng: np.random.Generator) -> None:
    f = 1 << SHIFT
    cloth = [tuple(float(c) for c in rng.uniform(0, 255, 3)) for _ in range(2)]
    skin = tuple(float(c) for c in np.array([0.95, 0.75, 0.6]) * rng.uniform(0.3, 1.0) * 255)
    width = max(2, int(round(scale * rng.uniform(0.05, 0.09))))
    torso = np.round(kp[[2, 5, 11, 8]] * f).astype(np.int32)
    for target, value in ((img, cloth[0]), (mask, 1)):
        cv2.fillPoly(target, [torso], value, cv2.LINE_8, SHIFT)
    for i, (a, b) in enumerate(LIMBS):
        colour = cloth[0] if (a, b) in ((1, 2), (1, 5), (8, 11)) else cloth[1] if a >= 8 else cloth[0]
        p, q = tuple(int(c) for c in np.round(kp[a] * f)), tuple(int(c) for c in np.round(kp[b] * f))
        cv2.line(img, p, q, colour, width, cv2.LINE_AA, SHIFT)
        cv2.line(mask, p, q, 1, width, cv2.LINE_8, SHIFT)
    head_r = max(2.0, 0.075 * scale)
    centre = tuple(int(c) for c in np.round(kp[0] * f))
    cv2.circle(img, centre, int(head_r * f), skin, -1, cv2.LINE_AA, SHIFT)
    cv2.circle(mask, centre, int(head_r * f), 1, -1, cv2.LINE_8, SHIFT)
    eye_y = kp[0] + (kp[0] - kp[1]) / max(np.linalg.norm(kp[0] - kp[1]), 1e-6) * head_r * 0.25  # the eyes, toward the top
    for k in (4, 7):  # hands
        cv2.circle(img, tuple(int(c) for c in np.round(kp[k] * f)), int(width * 0.7 * f), skin, -1, cv2.LINE_AA, SHIFT)
    cv2.circle(img, tuple(int(c) for c in np.round(eye_y * f)), int(max(1.0, head_r * 0.3) * f), (20, 20, 20), -1, cv2.LINE_AA, SHIFT)


def _occlude(img: np.ndarray, kp: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Cover a random block with texture; True for each keypoint under it."""
    w, h = rng.uniform(0.2, 0.5, 2) * size
    target = kp[rng.integers(len(kp))] + rng.normal(0, 0.1 * size, 2)  # near the figure, so it hides something
    x0, y0 = target - np.array([w, h]) / 2
    x1, y1 = x0 + w, y0 + h
    colour = rng.uniform(0, 255, 3)
    block = np.zeros_like(img[..., 0], dtype=bool)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    block = (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
    img[block] = colour + rng.normal(0, 15, (int(block.sum()), 3))
    return (kp[:, 0] >= x0) & (kp[:, 0] < x1) & (kp[:, 1] >= y0) & (kp[:, 1] < y1)


def render_figure(seed: int, index: int, cfg: FiguresConfig = FiguresConfig()) -> FigureSample:
    """Sample ``index`` of the split ``seed`` (deterministic): see :class:`FigureSample`."""
    rng = np.random.default_rng([seed, index, 2])
    unit, _ = skeleton(rng)
    kp, scale = _place(rng, unit, cfg)
    img = _background(rng, cfg)
    mask = np.zeros((cfg.size, cfg.size), np.uint8)
    _draw_figure(img, mask, kp, scale, rng)
    occluded = _occlude(img, kp, rng, cfg.size) if rng.random() < cfg.occlusion else np.zeros(len(kp), bool)
    blur = rng.uniform(*cfg.blur)
    if blur > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    img = img + rng.normal(0, rng.uniform(*cfg.noise), img.shape).astype(np.float32)
    inside = (kp >= 0).all(1) & (kp < cfg.size).all(1)
    return FigureSample(np.clip(img, 0, 255).astype(np.uint8), kp.astype(np.float32), inside & ~occluded, inside, mask.astype(bool))


def figure_batch(seed: int, start: int, count: int, cfg: FiguresConfig = FiguresConfig()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples [start, start + count) of split ``seed``: (images (N, S, S, 3) uint8, keypoints
    (N, K, 2) float32 crop pixels, inside (N, K) bool)."""
    samples = [render_figure(seed, i, cfg) for i in range(start, start + count)]
    return (np.stack([s.image for s in samples]), np.stack([s.keypoints for s in samples]),
            np.stack([s.inside for s in samples]))
