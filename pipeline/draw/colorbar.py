"""The colour bar on a depth panel: the colour map with ticks labelled in metres (or pixels of
disparity), so a colour can be read as a distance."""

from __future__ import annotations

import math

import cv2
import numpy as np

from sensorium.pipeline.draw.colormap import LUT, ColorRange
from sensorium.pipeline.draw.style import BLACK, FONT, WHITE, style_for

#: mantissas of the "nice" tick values, best first
_NICE = (1.0, 5.0, 2.0, 3.0, 1.5, 4.0, 7.0)


def _to_value(x: float, unit: str) -> float:
    """A tick (metres or pixels) in the range's space (inverse metres or pixels)."""
    return 1.0 / x if unit == "m" else x


def tick_values(rng: ColorRange) -> list[float]:
    """Candidate ticks inside ``rng``, in metres (or disparity pixels), the roundest first: the
    ends themselves, then 1, 5, 2, 3 ... times powers of ten."""
    ends = [1.0 / rng.hi, math.inf if rng.lo == 0 else 1.0 / rng.lo] if rng.unit == "m" else [rng.lo, rng.hi]
    lo, hi = min(ends), max(ends)
    top = hi if math.isfinite(hi) else lo * 1000
    out = [e for e in ends if math.isfinite(e)]
    for mant in _NICE:
        for exp in range(math.floor(math.log10(max(lo, 1e-6))), math.ceil(math.log10(top)) + 1):
            v = mant * 10.0 ** exp
            if lo < v < hi:
                out.append(v)
    return out


def format_tick(v: float, unit: str) -> str:
    """``0.35 m``, ``1.5 m``, ``20 m``; ``64 px``."""
    if unit == "px" or v >= 10:
        return f"{v:.0f} {unit}"
    return f"{v:.2f} m" if v < 1 else f"{v:.1f} m"


def draw_colorbar(panel: np.ndarray, rng: ColorRange) -> np.ndarray:
    """Draw the bar for ``rng`` on the right of ``panel`` ((H, W, 3) uint8 RGB, in place): near
    (red) at the top, ticks at the ends and at round values between them, labelled on a dark
    backing left of the bar; sizes follow the panel. Returns ``panel``."""
    h, w = panel.shape[:2]
    st = style_for(panel)
    bar_w = max(4, round(min(h, w) / 40))
    x1 = w - max(2, bar_w // 2)
    x0, y0, y1 = x1 - bar_w, round(0.08 * h), round(0.92 * h)
    if y1 - y0 < 8 or x0 < 0:
        return panel  # too small for a legible bar
    rows = np.linspace(255, 1, y1 - y0).round().astype(np.intp)  # near at the top
    panel[y0:y1, x0:x1] = LUT[rows][:, None, :]
    cv2.rectangle(panel, (x0 - 1, y0 - 1), (x1, y1), WHITE, 1)
    placed: list[int] = []
    min_gap = 1.6 * (st.text_height + 2 * st.pad)
    for v in tick_values(rng):
        t = (_to_value(v, rng.unit) - rng.lo) / (rng.hi - rng.lo)
        y = round(y1 - 1 - t * (y1 - y0 - 1))
        if any(abs(y - p) < min_gap for p in placed):
            continue
        placed.append(y)
        text = format_tick(v, rng.unit)
        (tw, th), _ = cv2.getTextSize(text, FONT, st.font_scale, st.text_thickness)
        tx, ty = x0 - st.pad * 3 - tw, min(max(y + th // 2, y0 + th), y1)
        cv2.rectangle(panel, (tx - st.pad, ty - th - st.pad), (x0 - st.pad, ty + st.pad), BLACK, -1)
        cv2.line(panel, (x0 - 2 * st.pad, y), (x0 - 1, y), WHITE, 1)
        cv2.putText(panel, text, (tx, ty), FONT, st.font_scale, WHITE, st.text_thickness, cv2.LINE_AA)
    return panel
