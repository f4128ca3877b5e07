"""Rendered eye crops with exact gaze: the generated half of the gaze model's training data.

No permissively licensed gaze data set with per-sample ground truth exists, so the eye model is
trained and measured on renders whose gaze is known exactly. Every crop is a pure function of
(seed, index): a split is a seed.

The crop matches what ``models/arch/mediapipe/iris.preprocess`` hands the iris model: 64x64 RGB,
the subject's right eye (outer corner on the image's left, nasal corner on its right), the eye
about 1/2.3 of the crop wide and centred. The eye is a sphere of radius R rotated by (yaw, pitch)
and projected orthographically; the iris and pupil are the circles around its optical axis, so
they foreshorten into ellipses as the eye turns. Lids are two curves from corner to corner; the
upper lid follows the pitch, as real lids do. Skin tone, light direction and strength, scale,
in-plane roll, blur, noise and an occluder (hair, a frame) vary per sample.

Gaze convention (radians, the eye in the head, the crop's frame: x right, y down, z away from the
camera): the gaze vector is ``(sin yaw cos pitch, -sin pitch, -cos yaw cos pitch)``; yaw > 0 turns
the eye toward the crop's +x, pitch > 0 turns it up; (0, 0) looks straight at the camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SIZE = 64
SUPERSAMPLE = 2  # rendered at 2x and area-downsampled: anti-aliased edges, sub-pixel iris positions


@dataclass(frozen=True)
class EyesConfig:
    """max_yaw, max_pitch: gaze range (radians, uniform); eye_width: corner-to-corner width in crop
    pixels (min, max; MediaPipe's crop makes it 64/2.3 = 28); max_roll: in-plane tilt (radians);
    max_shift: eye centre offset (pixels); blur: Gaussian sigma range (pixels); occlusion: chance of
    an occluder; noise: pixel noise sigma range (0-255 scale)."""

    size: int = SIZE
    max_yaw: float = 0.6
    max_pitch: float = 0.45
    eye_width: tuple[float, float] = (20.0, 36.0)
    max_roll: float = 0.2
    max_shift: float = 4.0
    blur: tuple[float, float] = (0.0, 1.8)
    occlusion: float = 0.3
    noise: tuple[float, float] = (0.0, 10.0)


@dataclass(frozen=True)
class EyeSample:
    """image (S, S, 3) uint8 RGB; gaze (2,) float32 (yaw, pitch) radians; iris_xy (2,) float32 the
    iris centre drawn, crop pixels (continuous: pixel i covers [i, i+1)); eye_centre (2,) float32."""

    image: np.ndarray
    gaze: np.ndarray
    iris_xy: np.ndarray
    eye_centre: np.ndarray


def gaze_vector(yaw: np.ndarray | float, pitch: np.ndarray | float) -> np.ndarray:
    """(yaw, pitch) radians -> unit gaze vectors (..., 3) in the crop's frame (see the module docstring)."""
    yaw, pitch = np.asarray(yaw, np.float64), np.asarray(pitch, np.float64)
    return np.stack([np.sin(yaw) * np.cos(pitch), -np.sin(pitch), -np.cos(yaw) * np.cos(pitch)], -1)


def _lids(x: np.ndarray, half: float, opening: float, upper_drop: float, lower: float) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower lid y (eye frame, y down) at eye-frame x; the opening is between them."""
    t = np.clip(x / half, -1.0, 1.0)
    bulge = 1.0 - t * t
    upper = -(opening - upper_drop) * bulge * (1 - 0.15 * t)  # the upper lid peaks a little toward the nose
    return upper, lower * bulge


def _ellipse_mask(u: np.ndarray, v: np.ndarray, centre: np.ndarray, axis: np.ndarray, radius: float, squash: float) -> np.ndarray:
    """Inside the projection of a circle of ``radius`` seen at cos(angle) ``squash`` along unit ``axis``."""
    du, dv = u - centre[0], v - centre[1]
    along = du * axis[0] + dv * axis[1]
    across = -du * axis[1] + dv * axis[0]
    return (along / max(radius * squash, 1e-6)) ** 2 + (across / radius) ** 2 <= 1.0


def _skin(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    tone = rng.uniform(0.25, 1.0)
    skin = np.array([0.95, 0.75, 0.6]) * tone * 255 + rng.normal(0, 8, 3)
    base = np.empty((n, n, 3), np.float32)
    base[:] = np.clip(skin, 20, 255)
    texture = cv2.GaussianBlur(rng.normal(0, 10, (n, n, 1)).astype(np.float32), (0, 0), rng.uniform(1, 5))
    return base + texture[..., None], skin


def _shade(img: np.ndarray, rng: np.random.Generator, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Directional light: a linear ramp in a random direction times a random exposure, a colour cast."""
    angle = rng.uniform(0, 2 * np.pi)
    ramp = 1.0 + rng.uniform(0, 0.7) * (np.cos(angle) * u + np.sin(angle) * v) / u.shape[0]
    cast = rng.uniform(0.85, 1.15, 3) * rng.uniform(0.45, 1.3)
    return img * ramp[..., None] * cast


def _occlude(img: np.ndarray, rng: np.random.Generator, n: int) -> None:
    """Hair strands, a glasses frame or a blob across a random part of the crop."""
    colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
    kind = rng.integers(3)
    if kind == 0:  # strands
        for _ in range(int(rng.integers(3, 12))):
            p1, p2 = rng.uniform(0, n, 2), rng.uniform(0, n, 2)
            cv2.line(img, tuple(int(c) for c in p1), tuple(int(c) for c in p2), colour, int(rng.integers(1, 4)) * SUPERSAMPLE, cv2.LINE_AA)
    elif kind == 1:  # a frame edge: a thick near-horizontal bar or an arc
        y = rng.uniform(0.15, 0.85) * n
        cv2.line(img, (0, int(y)), (n, int(y + rng.uniform(-0.2, 0.2) * n)), colour, int(rng.integers(3, 8)) * SUPERSAMPLE, cv2.LINE_AA)
    else:
        c = tuple(int(x) for x in rng.uniform(0, n, 2))
        axes = tuple(int(x) for x in rng.uniform(0.1, 0.35, 2) * n)
        cv2.ellipse(img, c, axes, rng.uniform(0, 180), 0, 360, colour, -1, cv2.LINE_AA)


def _eye_layers(rng: np.random.Generator, u: np.ndarray, v: np.ndarray, half: float, yaw: float, pitch: float,
                radius: float) -> tuple[np.ndarray, ...]:
    """Masks in the eye frame (origin at the eyeball centre's projection): opening, iris, pupil,
    highlight, lid line; and the iris centre (2,)."""
    g = gaze_vector(yaw, pitch)
    iris_c = radius * g[:2]  # the iris centre projects to R * (g_x, g_y)
    offset = np.hypot(*g[:2])
    axis = g[:2] / offset if offset > 1e-9 else np.array([1.0, 0.0])
    squash = float(-g[2])  # cos of the angle between gaze and the view direction
    iris_r = radius * rng.uniform(0.45, 0.55)
    upper, lower = _lids(u, half, half * rng.uniform(0.35, 0.6), -0.35 * pitch * half * 0.8, half * rng.uniform(0.25, 0.4))
    opening = (np.abs(u) < half) & (v > upper) & (v < lower)
    iris = _ellipse_mask(u, v, iris_c, axis, iris_r, squash)
    pupil = _ellipse_mask(u, v, iris_c, axis, iris_r * rng.uniform(0.25, 0.5), squash)
    glint_c = iris_c + rng.uniform(-0.4, 0.4, 2) * iris_r
    glint = (u - glint_c[0]) ** 2 + (v - glint_c[1]) ** 2 <= (iris_r * rng.uniform(0.08, 0.18)) ** 2
    lid_line = (np.abs(u) < half * 1.05) & (np.abs(v - upper) < max(1.0, 0.06 * half))
    return opening, iris, pupil, glint, lid_line, iris_c


def _compose(rng: np.random.Generator, cfg: EyesConfig, yaw: float, pitch: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float image (N, N, 3) at SUPERSAMPLE x, iris centre (2,), eye centre (2,)) in output-crop pixels."""
    n, s = cfg.size * SUPERSAMPLE, SUPERSAMPLE
    half = rng.uniform(*cfg.eye_width) / 2 * s
    centre = np.array([n / 2, n / 2]) + rng.uniform(-cfg.max_shift, cfg.max_shift, 2) * s
    roll = rng.uniform(-cfg.max_roll, cfg.max_roll)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) + 0.5
    cr, sr = np.cos(roll), np.sin(roll)
    u = cr * (xx - centre[0]) + sr * (yy - centre[1])  # eye frame: rotate the crop by -roll
    v = -sr * (xx - centre[0]) + cr * (yy - centre[1])
    img, skin = _skin(rng, n)
    radius = half * rng.uniform(0.8, 1.0)
    opening, iris, pupil, glint, lid_line, iris_c = _eye_layers(rng, u, v, half, yaw, pitch, radius)
    sclera = np.array([235, 228, 220]) * rng.uniform(0.8, 1.0) + rng.normal(0, 5, 3)
    shadow = np.clip(1 - 0.35 * np.exp(-((v + half * 0.3) / (half * 0.5)) ** 2), 0.5, 1)  # under the upper lid
    iris_col = rng.choice([[70, 45, 25], [110, 75, 40], [60, 90, 120], [80, 110, 70], [40, 30, 25]]) * rng.uniform(0.7, 1.3)
    img[opening] = (sclera * shadow[opening][:, None]).astype(np.float32)
    img[opening & iris] = (iris_col * shadow[opening & iris][:, None]).astype(np.float32)
    img[opening & pupil] = rng.uniform(5, 25)
    img[opening & glint] = 250
    img[lid_line] = skin * 0.35
    img = _shade(img, rng, xx - n / 2, yy - n / 2)
    rot = np.array([[cr, -sr], [sr, cr]])  # eye frame -> crop
    return img, (centre + rot @ iris_c) / s, centre / s


def render_eye(seed: int, index: int, cfg: EyesConfig = EyesConfig(), gaze: tuple[float, float] | None = None) -> EyeSample:
    """Sample ``index`` of the split ``seed`` (deterministic): see :class:`EyeSample`. ``gaze``
    (yaw, pitch) overrides the drawn gaze and keeps everything else of the sample (tests turn one eye)."""
    rng = np.random.default_rng([seed, index, 1])
    yaw, pitch = rng.uniform(-cfg.max_yaw, cfg.max_yaw), rng.uniform(-cfg.max_pitch, cfg.max_pitch)
    if gaze is not None:
        yaw, pitch = gaze
    img, iris_xy, eye_centre = _compose(rng, cfg, yaw, pitch)
    if rng.random() < cfg.occlusion:
        _occlude(img, rng, img.shape[0])
    img = cv2.resize(img, (cfg.size, cfg.size), interpolation=cv2.INTER_AREA)
    blur = rng.uniform(*cfg.blur)
    if blur > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    img = img + rng.normal(0, rng.uniform(*cfg.noise), img.shape).astype(np.float32)
    image = np.clip(img, 0, 255).astype(np.uint8)
    return EyeSample(image, np.array([yaw, pitch], np.float32), iris_xy.astype(np.float32), eye_centre.astype(np.float32))


def eye_batch(seed: int, start: int, count: int, cfg: EyesConfig = EyesConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Samples [start, start + count) of split ``seed``: (images (N, S, S, 3) uint8, gaze (N, 2) float32 yaw, pitch)."""
    samples = [render_eye(seed, i, cfg) for i in range(start, start + count)]
    return np.stack([s.image for s in samples]), np.stack([s.gaze for s in samples])
