"""The point of a box that decides where a track is (supervision's ``Position``)."""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

#: the anchors a zone or line can use: a box's centre, the middle of an edge, or a corner
Anchor = Literal["center", "bottom_center", "top_center", "center_left", "center_right", "top_left", "top_right", "bottom_left", "bottom_right"]
ANCHORS: tuple[str, ...] = get_args(Anchor)

#: anchor → (fraction of the width from x1, fraction of the height from y1)
_FRACTIONS = {
    "center": (0.5, 0.5), "bottom_center": (0.5, 1.0), "top_center": (0.5, 0.0), "center_left": (0.0, 0.5), "center_right": (1.0, 0.5),
    "top_left": (0.0, 0.0), "top_right": (1.0, 0.0), "bottom_left": (0.0, 1.0), "bottom_right": (1.0, 1.0),
}


def anchor_points(boxes: np.ndarray, anchors: tuple[str, ...] | str) -> np.ndarray:
    """(N, 4) ``x1, y1, x2, y2`` pixel boxes → (N, A, 2) float64 (x, y) pixels of each anchor.

    Bottom-centre is where a standing person or a car meets the ground, the usual choice for
    zones on a floor or a road."""
    names = (anchors,) if isinstance(anchors, str) else tuple(anchors)
    bad = [a for a in names if a not in _FRACTIONS]
    if bad or not names:
        raise ValueError(f"anchor: expected one or more of {', '.join(ANCHORS)}, got {list(names)}")
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    f = np.array([_FRACTIONS[a] for a in names])  # (A, 2)
    x = b[:, None, 0] + f[None, :, 0] * (b[:, None, 2] - b[:, None, 0])
    y = b[:, None, 1] + f[None, :, 1] * (b[:, None, 3] - b[:, None, 1])
    return np.stack([x, y], axis=-1)
