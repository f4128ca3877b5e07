"""Keypoint skeletons with each joint's 1-sigma uncertainty ellipse.

A joint's ellipse has axes sigma_x, sigma_y (pixels): the predicted scale of its error (RLE
heads), drawn filled and translucent so the image stays readable under it. Joints scoring
below ``min_score`` or not finite are left out with their edges: a guessed joint drawn as
firmly as a seen one misleads.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sensorium.pipeline.draw.style import BLACK, Translucent, palette, pt, style_for
from sensorium.stages.results import Keypoints

#: opacity of filled uncertainty regions (keypoint ellipses, gaze cones)
UNCERTAINTY_ALPHA = 0.35


def skeleton_edges(kps: Keypoints, skeleton: tuple[tuple[int, int], ...] | None = None) -> np.ndarray:
    """(E, 2) int joint-index pairs: ``skeleton`` if given, else ``kps.metadata["skeleton"]``
    (none without either), checked against the K joints."""
    edges = skeleton if skeleton is not None else kps.metadata.get("skeleton")
    arr = np.asarray([] if edges is None else edges)
    k = kps.xy.shape[1]
    if arr.size == 0:
        return np.zeros((0, 2), np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() >= k:
        raise ValueError(f"Keypoints skeleton: expected a list of (i, j) joint index pairs in [0, {k}), "
                         f"got {arr.dtype} array of shape {arr.shape}")
    return arr.astype(np.int64)


def visible(kps: Keypoints, min_score: float) -> np.ndarray:
    """(N, K) bool: the joint is finite and scores at least ``min_score`` (every finite one without scores)."""
    shown = np.isfinite(kps.xy).all(axis=-1)
    if kps.scores is not None:
        shown &= np.nan_to_num(kps.scores, nan=0.0) >= min_score
    return shown


@dataclass(frozen=True)
class SkeletonAnnotator:
    """Per instance (one colour each): its box when given, the ``skeleton`` edges (else the
    result's ``metadata["skeleton"]``), each joint as an outlined dot, and with ``sigma`` each
    joint's 1-sigma ellipse at opacity ``alpha`` (none where sigma is None or not finite)."""

    min_score: float = 0.3
    skeleton: tuple[tuple[int, int], ...] | None = None
    sigma: bool = True
    alpha: float = UNCERTAINTY_ALPHA

    def annotate(self, image: np.ndarray, kps: Keypoints) -> np.ndarray:
        """Draw on ``image`` ((H, W, 3) uint8 RGB, in place) and return it."""
        st = style_for(image)
        edges, shown = skeleton_edges(kps, self.skeleton), visible(kps, self.min_score)
        # plain ints once: per-point numpy scalars cost more than the drawing at VGA
        pts, seen = np.round(np.nan_to_num(kps.xy)).astype(np.int64).tolist(), shown.tolist()
        if self.sigma and kps.sigma is not None:
            self._ellipses(image, kps, shown)
        r = st.thickness + 1
        for n in range(len(kps)):
            color, p, ok = palette(n + 7), pts[n], seen[n]
            if kps.boxes is not None and np.isfinite(kps.boxes[n]).all():
                cv2.rectangle(image, pt(kps.boxes[n][:2]), pt(kps.boxes[n][2:]), color, st.thickness)
            for i, j in edges.tolist():
                if ok[i] and ok[j]:
                    cv2.line(image, p[i], p[j], color, st.thickness, cv2.LINE_AA)
            for k in np.flatnonzero(shown[n]).tolist():
                cv2.circle(image, p[k], r, color, -1, cv2.LINE_AA)
                cv2.circle(image, p[k], r, BLACK, 1, cv2.LINE_AA)
        return image

    def _ellipses(self, image: np.ndarray, kps: Keypoints, shown: np.ndarray) -> None:
        cap = float(max(image.shape[:2]))  # a huge sigma still draws (and cv2 gets sane integers)
        drawn = shown & np.isfinite(kps.sigma).all(axis=-1)
        if not drawn.any():
            return
        n_idx, k_idx = np.nonzero(drawn)
        centres = np.round(kps.xy[n_idx, k_idx]).astype(np.int64)
        axes = np.clip(np.round(kps.sigma[n_idx, k_idx]), 1, cap).astype(np.int64)
        (x0, y0), (x1, y1) = (centres - axes).min(axis=0), (centres + axes).max(axis=0)
        with Translucent(image, self.alpha, (x0, y0, x1, y1)) as layer:
            for n, c, a in zip(n_idx.tolist(), (centres - layer.origin).tolist(), axes.tolist()):
                cv2.ellipse(layer.image, c, a, 0, 0, 360, palette(n + 7), -1, cv2.LINE_AA)
