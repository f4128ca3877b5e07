"""Gaze arrows with their 1-sigma cone of directions."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sensorium.pipeline.draw.keypoints import UNCERTAINTY_ALPHA
from sensorium.pipeline.draw.style import Color, Translucent, pt, style_for
from sensorium.stages.results import Gaze

GAZE_COLOR: Color = (255, 255, 0)
#: points on the 1-sigma ellipse of directions that outline the cone
_RING = np.stack([np.cos(np.linspace(0, 2 * np.pi, 24, endpoint=False)),
                  np.sin(np.linspace(0, 2 * np.pi, 24, endpoint=False))], axis=1)


def gaze_tip(origin: np.ndarray, yaw_pitch: np.ndarray, length: float) -> np.ndarray:
    """(M, 2) image points ``length`` pixels along the gazes (M, 2) yaw/pitch radians from
    ``origin`` (2,) pixels: the 3-D unit vector projected orthographically (X right, Y down)."""
    yaw, pitch = yaw_pitch[:, 0], yaw_pitch[:, 1]
    v = np.stack([-np.cos(pitch) * np.sin(yaw), -np.sin(pitch)], axis=1)  # Gaze.vectors' x, y
    return origin[None] + length * v


@dataclass(frozen=True)
class GazeAnnotator:
    """An arrow from each gaze origin along its direction projected on the image (``length``
    of the shorter image side for a gaze parallel to the image; a gaze at the camera is a ring
    at the origin) and, with sigma, a translucent cone from the origin to the 1-sigma ellipse
    of directions (yaw +- sigma_yaw, pitch +- sigma_pitch). Gazes without an origin cannot be
    placed and are left out."""

    length: float = 0.2
    color: Color = GAZE_COLOR
    alpha: float = UNCERTAINTY_ALPHA

    def annotate(self, image: np.ndarray, gaze: Gaze) -> np.ndarray:
        """Draw on ``image`` ((H, W, 3) uint8 RGB, in place) and return it."""
        if gaze.origin is None:
            return image
        st = style_for(image)
        length = self.length * min(image.shape[:2])
        origins, yps = gaze.origin.astype(np.float64), gaze.yaw_pitch.astype(np.float64)
        ok = np.isfinite(origins).all(axis=1) & np.isfinite(yps).all(axis=1)
        if gaze.sigma is not None:
            self._cones(image, origins, yps, gaze.sigma.astype(np.float64), ok, length)
        for i in np.flatnonzero(ok):
            start, end = pt(origins[i]), pt(gaze_tip(origins[i], yps[i][None], length)[0])
            if abs(end[0] - start[0]) + abs(end[1] - start[1]) < 2 * (st.thickness + 1):
                cv2.circle(image, start, 2 * (st.thickness + 1), self.color, st.thickness + 1, cv2.LINE_AA)
            else:
                cv2.arrowedLine(image, start, end, self.color, st.thickness + 1, cv2.LINE_AA, tipLength=0.2)
        return image

    def _cones(self, image: np.ndarray, origins: np.ndarray, yps: np.ndarray, sigmas: np.ndarray, ok: np.ndarray,
               length: float) -> None:
        hulls = []
        for i in np.flatnonzero(ok & np.isfinite(sigmas).all(axis=1)):
            edge = gaze_tip(origins[i], yps[i][None] + sigmas[i][None] * _RING, length)
            hulls.append(cv2.convexHull(np.round(np.vstack([origins[i][None], edge])).astype(np.int32)).reshape(-1, 2))
        if not hulls:
            return
        corners = np.vstack(hulls)
        (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
        with Translucent(image, self.alpha, (x0, y0, x1, y1)) as layer:
            for hull in hulls:
                cv2.fillConvexPoly(layer.image, (hull - layer.origin).astype(np.int32), self.color, cv2.LINE_AA)
