"""Box geometry the GUI grounding modules share: boxes are (x1, y1, x2, y2) in screenshot pixels.

Only the plain measures live here; each module's grouping rules (OCR fragments into lines in
``ocr_text.py``, look-alike icons into rows in ``conventions.py``, a composite label's parts in
``composite.py``) stay with the module whose thresholds they are.
"""

from __future__ import annotations

from typing import Sequence


def centre(b: Sequence[float]) -> tuple[float, float]:
    """The box's centre (x, y)."""
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


def inside(inner: Sequence[float], outer: Sequence[float], pad: float = 2) -> bool:
    """Whether ``inner`` lies within ``outer`` grown by ``pad`` px on every side."""
    return inner[0] >= outer[0] - pad and inner[1] >= outer[1] - pad and inner[2] <= outer[2] + pad and inner[3] <= outer[3] + pad


def gaps(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """The empty space between two boxes along x and along y (negative where they overlap on that axis)."""
    return max(a[0], b[0]) - min(a[2], b[2]), max(a[1], b[1]) - min(a[3], b[3])
