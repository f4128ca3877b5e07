"""Inline SVG glyphs for the generated web pages: Material-like 24x24 icons written here.

They are drawn in a different hand from the training icons (:mod:`~sensorium.models.data.icon_glyphs`):
SVG paths with round caps in a 24-unit box, the way a web page ships them, so the web
benchmark measures icons the model has not seen pixel for pixel. Each icon has the
accessibility label a page gives it (``aria-label``), which is what a user asks for.
"""

from __future__ import annotations

import numpy as np


def _gear_points() -> str:
    out = []
    for i in range(8):
        a = 2 * np.pi * i / 8
        for da, rad in ((-0.3, 7.0), (-0.18, 10.0), (0.18, 10.0), (0.3, 7.0)):
            out.append(f"{12 + rad * np.cos(a + da):.2f},{12 + rad * np.sin(a + da):.2f}")
    return " ".join(out)


#: aria-label → SVG body (24x24 box; ``S`` marks stroked parts, ``F`` filled ones, drawn in currentColor)
WEB_ICONS: dict[str, str] = {
    "Settings": f'<polygon points="{_gear_points()}" F/><circle cx="12" cy="12" r="3.5" fill="var(--bg)"/>',
    "Search": '<circle cx="10" cy="10" r="6" S/><path d="M14.5 14.5 L20.5 20.5" S/>',
    "More options": '<circle cx="12" cy="5" r="2" F/><circle cx="12" cy="12" r="2" F/><circle cx="12" cy="19" r="2" F/>',
    "Close": '<path d="M6 6 L18 18 M18 6 L6 18" S/>',
    "Back": '<path d="M20 12 H5 M11 5 L4 12 L11 19" S/>',
    "Menu": '<path d="M4 6 H20 M4 12 H20 M4 18 H20" S/>',
    "Share": '<circle cx="18" cy="5" r="2.6" F/><circle cx="6" cy="12" r="2.6" F/><circle cx="18" cy="19" r="2.6" F/>'
             '<path d="M18 5 L6 12 L18 19" S/>',
    "Add": '<path d="M12 4 V20 M4 12 H20" S/>',
    "Delete": '<path d="M4 6 H20 M9 6 V3.5 H15 V6 M6.5 8 L7.5 21 H16.5 L17.5 8 Z" S/>',
    "Edit": '<path d="M4 20 L4.8 16 L16 4.8 L19.2 8 L8 19.2 Z M14 7 L17 10" S/>',
    "Refresh": '<path d="M19 12 A7 7 0 1 1 16.9 7" S/><path d="M17.5 3 V8 H12.5" S/>',
    "Home": '<path d="M3 11.5 L12 3.5 L21 11.5 M5.5 9.5 V20.5 H18.5 V9.5" S/>',
    "Play": '<polygon points="7,4 20,12 7,20" F/>',
    "Pause": '<rect x="6" y="4.5" width="4" height="15" F/><rect x="14" y="4.5" width="4" height="15" F/>',
    "Notifications": '<path d="M6 17 V11 A6 6 0 0 1 18 11 V17 L20 19 H4 Z" S/><circle cx="12" cy="21.2" r="1.6" F/>',
    "Favorite": '<path d="M12 20.5 L4.3 12.8 A4.6 4.6 0 0 1 12 6.4 A4.6 4.6 0 0 1 19.7 12.8 Z" S/>',
    "Account": '<circle cx="12" cy="8" r="4" S/><path d="M4 21 A8 7 0 0 1 20 21" S/>',
    "Mail": '<rect x="3" y="5" width="18" height="14" rx="1.5" S/><path d="M3.5 6 L12 13 L20.5 6" S/>',
}
#: glyphs only the rule pages draw (:mod:`~sensorium.pipeline.tools.gui_rule_pages`), kept apart
#: so the general pages (drawn from :data:`WEB_ICONS`) stay as they were measured
RULE_ICONS: dict[str, str] = {
    "Remove": '<path d="M4 12 H20" S/>',
    "Forward": '<path d="M4 12 H19 M13 5 L20 12 L13 19" S/>',
}
#: icons whose outline is closed, so Material's filled style is the outline filled
FILLABLE = frozenset({"Delete", "Notifications", "Favorite", "Account"})


def svg(label: str, size: float, stroke: float, filled: bool) -> str:
    """The icon ``label`` as an inline ``<svg>`` of ``size`` CSS px; ``stroke`` in 24-unit box
    units; ``filled`` fills the closed outlines too (Material's filled style)."""
    glyphs = WEB_ICONS | RULE_ICONS
    if label not in glyphs:
        raise ValueError(f"unknown web icon {label!r}; expected one of {', '.join(glyphs)}")
    body = glyphs[label]
    fill = "currentColor" if filled and label in FILLABLE else "none"
    body = body.replace(" S/>", f' fill="{fill}" stroke="currentColor" stroke-width="{stroke}" stroke-linecap="round" stroke-linejoin="round"/>')
    body = body.replace(" F/>", ' fill="currentColor"/>')
    return f'<svg viewBox="0 0 24 24" width="{size}" height="{size}" aria-hidden="true">{body}</svg>'
