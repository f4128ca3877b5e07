"""Draw a frame's results for people: the image beside its colour-mapped depth, with overlays.

Pure drawing (OpenCV on numpy, no I/O): sinks turn the result into video or images. Each
result kind draws itself through ``OVERLAYS``, so a new stage registers its own overlay with
``register_overlay`` instead of editing this module. All images here are RGB uint8; colours
are RGB tuples.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import cv2
import numpy as np

from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth, Detections, Faces, Gaze, Keypoints, ZoneCounts

log = logging.getLogger(__name__)

#: an overlay draws one result container onto the (H, W, 3) uint8 RGB image panel, in place
Overlay = Callable[[np.ndarray, Any], None]

#: result kind (``container.kind``) → overlay
OVERLAYS: dict[str, Overlay] = {}

RED = (255, 40, 40)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
#: keypoints whose score is below this are not drawn (occluded/guessed points clutter the view)
KEYPOINT_MIN_SCORE = 0.3
#: canvas size (H, W) for a frame with neither image nor depth (a decode error, say)
BLANK_SHAPE = (240, 320)


def register_overlay(kind: str) -> Callable[[Overlay], Overlay]:
    """Decorator: draw results of ``kind`` with the decorated function (raises on a duplicate kind)."""

    def deco(fn: Overlay) -> Overlay:
        if kind in OVERLAYS:
            raise ValueError(f"overlay for result kind {kind!r} registered twice")
        OVERLAYS[kind] = fn
        return fn

    return deco


# --- depth ----------------------------------------------------------------------------------
def colorize_depth(depth_m: np.ndarray, max_depth: float | None = None) -> np.ndarray:
    """Colour-map a depth map with turbo: near is red, ``max_depth`` and beyond dark blue.

    depth_m: (H, W) float metres, <= 0 or non-finite where unknown. max_depth: metres mapped to
    the far end of the colormap; None uses the 99th percentile of the valid depths (robust to a
    few far outliers, but it changes per frame: pass a value for a stable video).
    Returns (H, W, 3) uint8 RGB, unknown pixels black.
    """
    depth = np.asarray(depth_m)
    if depth.ndim != 2 or depth.dtype.kind not in "fiu":
        raise ValueError(f"colorize_depth: expected (H, W) depth in metres, got {depth.shape} {depth.dtype}")
    depth = depth.astype(np.float32, copy=False)
    valid = np.isfinite(depth) & (depth > 0)
    out = np.zeros((*depth.shape, 3), np.uint8)
    if not valid.any():
        return out
    if max_depth is None:
        max_depth = float(np.percentile(depth[valid], 99))
    if not max_depth > 0:
        raise ValueError(f"colorize_depth: expected max_depth > 0 metres, got {max_depth}")
    scaled = np.clip(np.where(valid, depth, 0) / max_depth, 0.0, 1.0)
    index = np.round((1.0 - scaled) * 255).astype(np.uint8)
    colored = cv2.cvtColor(cv2.applyColorMap(index, cv2.COLORMAP_TURBO), cv2.COLOR_BGR2RGB)
    out[valid] = colored[valid]
    return out


def primary_depth(frame: Frame) -> tuple[str, Depth] | None:
    """(stage name, Depth) of the frame's primary depth: the ``depth`` stage's result, else the
    first Depth result; None without one. Shown beside the image and written by the sinks."""
    if isinstance(frame.results.get("depth"), Depth):
        return "depth", frame.results["depth"]
    return next(((n, r) for n, r in frame.results.items() if isinstance(r, Depth)), None)


# --- the frame --------------------------------------------------------------------------------
def annotate(frame: Frame, *, max_depth: float | None = None) -> np.ndarray:
    """Render ``frame`` with every result drawn on it.

    Returns (H, W', 3) uint8 RGB: the image (H, W) with overlays for each result kind in
    ``OVERLAYS`` and the stage errors in red; when the frame has a Depth result, its
    colour-mapped depth (``colorize_depth(..., max_depth)``) is placed to the right, scaled to
    height H, so W' = W + the scaled depth width. A frame without an image gets a black image
    panel (the depth map's size, else ``BLANK_SHAPE``) so its errors still show.
    """
    found = primary_depth(frame)
    depth = None if found is None else found[1]
    if frame.image is not None:
        canvas = frame.image.copy()
    elif depth is not None:
        canvas = np.zeros((*depth.depth.shape, 3), np.uint8)
    else:
        canvas = np.zeros((*BLANK_SHAPE, 3), np.uint8)

    messages = [f"{stage}: {msg}" for stage, msg in frame.errors.items()]
    for name, result in frame.results.items():
        overlay = OVERLAYS.get(getattr(result, "kind", ""))
        if overlay is None:
            continue
        try:
            overlay(canvas, result)
        except Exception as exc:  # noqa: BLE001 - a drawing bug must not cost the frame
            log.warning("overlay for %s (%s) failed on %s: %s", name, result.kind, frame.key, exc)
            messages.append(f"annotate {name}: {type(exc).__name__}: {exc}")
    _draw_messages(canvas, messages)

    if depth is None:
        return canvas
    panel = colorize_depth(depth.depth, max_depth)
    h = canvas.shape[0]
    if panel.shape[0] != h:
        w = max(1, round(panel.shape[1] * h / panel.shape[0]))
        panel = cv2.resize(panel, (w, h), interpolation=cv2.INTER_NEAREST)  # nearest: no invented depths
    return np.hstack([canvas, panel])


# --- drawing helpers --------------------------------------------------------------------------
def _style(img: np.ndarray) -> tuple[int, float]:
    """Line thickness and font scale that stay legible from thumbnails to 4K."""
    side = min(img.shape[:2])
    return max(1, round(side / 360)), max(0.35, side / 1200)


def _palette(i: int) -> tuple[int, int, int]:
    """A distinct, stable RGB colour per class/instance index (golden-angle hue steps)."""
    hue = int((i * 0.618033988749895 % 1.0) * 179)
    rgb = cv2.cvtColor(np.uint8([[[hue, 220, 255]]]), cv2.COLOR_HSV2RGB)[0, 0]
    return int(rgb[0]), int(rgb[1]), int(rgb[2])


def _pt(xy: Any) -> tuple[int, int]:
    return int(round(float(xy[0]))), int(round(float(xy[1])))


def _label(img: np.ndarray, text: str, xy: tuple[int, int], color: tuple[int, int, int]) -> None:
    """Text on a filled box of ``color`` above ``xy`` (inside the image when there is no room)."""
    thickness, scale = _style(img)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x = min(max(0, xy[0]), max(0, img.shape[1] - tw))
    y = xy[1] if xy[1] - th - base >= 0 else xy[1] + th + base
    cv2.rectangle(img, (x, y - th - base), (x + tw, y), color, -1)
    text_color = BLACK if sum(color) > 380 else WHITE
    cv2.putText(img, text, (x, y - base), cv2.FONT_HERSHEY_SIMPLEX, scale, text_color, thickness, cv2.LINE_AA)


def _box(img: np.ndarray, box: np.ndarray, color: tuple[int, int, int]) -> None:
    thickness, _ = _style(img)
    cv2.rectangle(img, _pt(box[:2]), _pt(box[2:]), color, thickness)


def _draw_messages(img: np.ndarray, messages: list[str]) -> None:
    """Errors in red, one line each from the top-left, cut to the image width."""
    if not messages:
        return
    thickness, scale = _style(img)
    (cw, ch), base = cv2.getTextSize("M", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    max_chars = max(4, img.shape[1] // max(1, cw) - 1)
    y = ch + base + 2
    for msg in messages:
        if y > img.shape[0]:
            break
        text = msg if len(msg) <= max_chars else msg[: max_chars - 3] + "..."
        # a dark outline keeps red text readable on any background
        cv2.putText(img, text, (2, y), cv2.FONT_HERSHEY_SIMPLEX, scale, BLACK, thickness + 2, cv2.LINE_AA)
        cv2.putText(img, text, (2, y), cv2.FONT_HERSHEY_SIMPLEX, scale, RED, thickness, cv2.LINE_AA)
        y += ch + base + 4


# --- overlays of the built-in result kinds --------------------------------------------------------
@register_overlay(Detections.kind)
def draw_detections(img: np.ndarray, det: Detections) -> None:
    """Boxes coloured by class, labelled ``name score`` and, when lifted to 3D, ``x,y,z m``
    (camera frame)."""
    for i in range(len(det)):
        cid = int(det.class_id[i])
        name = det.class_names[cid] if 0 <= cid < len(det.class_names) else str(cid)
        text = f"{name} {float(det.scores[i]):.2f}"
        if det.xyz is not None and np.isfinite(det.xyz[i]).all():
            x, y, z = (float(v) for v in det.xyz[i])
            text += f" {x:.2f},{y:.2f},{z:.2f}m"
        color = _palette(cid)
        _box(img, det.boxes[i], color)
        _label(img, text, _pt(det.boxes[i][:2]), color)


#: landmark colours in Faces order: right eye, left eye, nose, right/left mouth corner
_LANDMARK_COLORS = ((255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 0, 255), (0, 255, 255))


@register_overlay(Faces.kind)
def draw_faces(img: np.ndarray, faces: Faces) -> None:
    """Boxes, the 5 landmarks and the matched identity (``data["identity"]``) with its
    similarity, else the detection score."""
    thickness, _ = _style(img)
    identities = faces.data.get("identity")
    for i in range(len(faces)):
        name = None if identities is None else identities[i]
        known = name is not None and str(name) != ""
        color = (0, 220, 0) if known else (255, 200, 0)
        _box(img, faces.boxes[i], color)
        for j, (x, y) in enumerate(faces.landmarks[i]):
            cv2.circle(img, _pt((x, y)), thickness + 1, _LANDMARK_COLORS[j], -1, cv2.LINE_AA)
        if known and faces.similarity is not None:
            text = f"{name} {float(faces.similarity[i]):.2f}"
        elif known:
            text = str(name)
        else:
            text = f"face {float(faces.scores[i]):.2f}"
        _label(img, text, _pt(faces.boxes[i][:2]), color)


#: opacity of the filled uncertainty regions (keypoint ellipses, gaze cones): the image stays readable under them
UNCERTAINTY_ALPHA = 0.35
#: gaze arrow length for a gaze parallel to the image, as a fraction of the shorter image side
GAZE_LENGTH = 0.2


def _blend(img: np.ndarray, layer: np.ndarray, alpha: float) -> None:
    """Mix ``layer`` into ``img`` (in place) with opacity ``alpha`` where the two differ."""
    mask = np.any(layer != img, axis=-1)
    if mask.any():
        img[mask] = (alpha * layer[mask] + (1.0 - alpha) * img[mask]).round().astype(np.uint8)


def _skeleton(kps: Keypoints) -> np.ndarray:
    """``kps.metadata["skeleton"]`` as (E, 2) int joint-index pairs (none without it), checked against K."""
    edges = kps.metadata.get("skeleton")
    if edges is None:
        return np.zeros((0, 2), np.int64)
    arr = np.asarray(edges)
    k = kps.xy.shape[1]
    if arr.size == 0:
        return np.zeros((0, 2), np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() >= k:
        raise ValueError(f"Keypoints.metadata['skeleton']: expected a list of (i, j) joint index pairs in [0, {k}), "
                         f"got {arr.dtype} array of shape {arr.shape}")
    return arr.astype(np.int64)


def _visible(kps: Keypoints) -> np.ndarray:
    """(N, K) bool: the point is finite and scores at least ``KEYPOINT_MIN_SCORE`` (every finite one without scores)."""
    shown = np.isfinite(kps.xy).all(axis=-1)
    if kps.scores is not None:
        shown &= np.nan_to_num(kps.scores, nan=0.0) >= KEYPOINT_MIN_SCORE
    return shown


@register_overlay(Keypoints.kind)
def draw_keypoints(img: np.ndarray, kps: Keypoints) -> None:
    """Skeletons: the edges of ``metadata["skeleton"]`` (joint index pairs; no edges without one)
    and each joint as a dot inside its 1-sigma uncertainty ellipse (axes sigma_x, sigma_y pixels,
    filled translucent; no ellipse where sigma is None or not finite), one colour per instance.
    Points scoring below ``KEYPOINT_MIN_SCORE`` or not finite are left out, with their edges:
    a guessed joint drawn as firmly as a seen one misleads."""
    thickness, _ = _style(img)
    edges, shown = _skeleton(kps), _visible(kps)
    cap = float(max(img.shape[:2]))  # a huge sigma still draws (and cv2 gets sane integers)
    regions = img.copy()
    for n in range(len(kps)):
        color = _palette(n + 7)
        if kps.boxes is not None:
            _box(img, kps.boxes[n], color)
        for k in np.flatnonzero(shown[n]) if kps.sigma is not None else ():
            sigma = kps.sigma[n, k]
            if np.isfinite(sigma).all():
                axes = tuple(int(min(cap, max(1.0, round(float(s))))) for s in sigma)
                cv2.ellipse(regions, _pt(kps.xy[n, k]), axes, 0, 0, 360, color, -1, cv2.LINE_AA)
    _blend(img, regions, UNCERTAINTY_ALPHA)
    for n in range(len(kps)):
        color = _palette(n + 7)
        for i, j in edges:
            if shown[n, i] and shown[n, j]:
                cv2.line(img, _pt(kps.xy[n, i]), _pt(kps.xy[n, j]), color, thickness, cv2.LINE_AA)
        for k in np.flatnonzero(shown[n]):
            cv2.circle(img, _pt(kps.xy[n, k]), thickness + 1, color, -1, cv2.LINE_AA)
            cv2.circle(img, _pt(kps.xy[n, k]), thickness + 1, BLACK, 1, cv2.LINE_AA)


GAZE_COLOR = (255, 255, 0)


def _gaze_tip(origin: np.ndarray, yaw_pitch: np.ndarray, length: float) -> np.ndarray:
    """(M, 2) image points ``length`` pixels along the gazes (M, 2) yaw/pitch radians from ``origin``,
    the 3-D unit vector projected orthographically onto the image (X right, Y down)."""
    yaw, pitch = yaw_pitch[:, 0], yaw_pitch[:, 1]
    v = np.stack([-np.cos(pitch) * np.sin(yaw), -np.sin(pitch)], axis=1)  # Gaze.vectors' x, y
    return origin[None] + length * v


@register_overlay(Gaze.kind)
def draw_gaze(img: np.ndarray, gaze: Gaze) -> None:
    """An arrow from each gaze origin along the gaze direction projected on the image plane
    (``GAZE_LENGTH`` of the shorter image side for a gaze parallel to the image; a gaze at the
    camera is a ring at the origin). With sigma, a translucent cone from the origin to the
    1-sigma ellipse of directions (yaw +- sigma_yaw, pitch +- sigma_pitch) shows the
    uncertainty. Gazes without an origin cannot be placed and are left out."""
    if gaze.origin is None:
        return
    thickness, _ = _style(img)
    length = GAZE_LENGTH * min(img.shape[:2])
    ring = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    cones = img.copy()
    for i in range(len(gaze)):
        origin, yp = gaze.origin[i].astype(np.float64), gaze.yaw_pitch[i].astype(np.float64)
        sigma = None if gaze.sigma is None else gaze.sigma[i].astype(np.float64)
        if sigma is None or not (np.isfinite(origin).all() and np.isfinite(yp).all() and np.isfinite(sigma).all()):
            continue
        edge = _gaze_tip(origin, yp[None] + sigma[None] * np.stack([np.cos(ring), np.sin(ring)], axis=1), length)
        hull = cv2.convexHull(np.round(np.vstack([origin[None], edge])).astype(np.int32))
        cv2.fillConvexPoly(cones, hull, GAZE_COLOR, cv2.LINE_AA)
    _blend(img, cones, UNCERTAINTY_ALPHA)
    for i in range(len(gaze)):
        origin, yp = gaze.origin[i].astype(np.float64), gaze.yaw_pitch[i].astype(np.float64)
        if not (np.isfinite(origin).all() and np.isfinite(yp).all()):
            continue
        start, end = _pt(origin), _pt(_gaze_tip(origin, yp[None], length)[0])
        if abs(end[0] - start[0]) + abs(end[1] - start[1]) < 2 * (thickness + 1):
            cv2.circle(img, start, 2 * (thickness + 1), GAZE_COLOR, thickness + 1, cv2.LINE_AA)
        else:
            cv2.arrowedLine(img, start, end, GAZE_COLOR, thickness + 1, cv2.LINE_AA, tipLength=0.2)


#: zone outlines and counting lines: one colour, so they read as configuration, not detections
ZONE_COLOR = (255, 200, 0)


@register_overlay(ZoneCounts.kind)
def draw_zone_counts(img: np.ndarray, counts: ZoneCounts) -> None:
    """Each zone outlined and labelled ``name inside N +entered -left``; each line drawn with
    ``name in A out B`` at its start (in: onto its left, start to end as drawn)."""
    thickness, _ = _style(img)
    for z in counts.zones:
        pts = np.round(np.asarray(z.polygon, np.float64)).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [pts], True, ZONE_COLOR, thickness, cv2.LINE_AA)
        _label(img, f"{z.name} {len(z.inside)} +{z.entered} -{z.left}", _pt(pts[:, 0].min(axis=0)), ZONE_COLOR)
    for ln in counts.lines:
        cv2.line(img, _pt(ln.start), _pt(ln.end), ZONE_COLOR, thickness + 1, cv2.LINE_AA)
        _label(img, f"{ln.name} in {ln.in_count} out {ln.out_count}", _pt(ln.start), ZONE_COLOR)
