"""Zones and counting lines with their counts (the ``zones`` stage's result)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sensorium.pipeline.draw.style import Color, label, pt, style_for
from sensorium.stages.results import ZoneCounts

#: one colour for zones and lines, so they read as configuration, not detections
ZONE_COLOR: Color = (255, 200, 0)


@dataclass(frozen=True)
class ZoneAnnotator:
    """Each zone outlined and labelled ``name N inside +entered -left`` at its top-left; each
    line drawn with ``name in A out B`` at its start (in: onto its left, start to end as drawn)."""

    color: Color = ZONE_COLOR

    def annotate(self, image: np.ndarray, counts: ZoneCounts) -> np.ndarray:
        """Draw on ``image`` ((H, W, 3) uint8 RGB, in place) and return it."""
        st = style_for(image)
        for z in counts.zones:
            if not z.polygon:
                continue
            pts = np.round(np.asarray(z.polygon, np.float64)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(image, [pts], True, self.color, st.thickness, cv2.LINE_AA)
            label(image, f"{z.name} {len(z.inside)} +{z.entered} -{z.left}", pt(pts[:, 0].min(axis=0)), self.color, st)
        for ln in counts.lines:
            cv2.line(image, pt(ln.start), pt(ln.end), self.color, st.thickness + 1, cv2.LINE_AA)
            label(image, f"{ln.name} in {ln.in_count} out {ln.out_count}", pt(ln.start), self.color, st)
        return image
