"""The web pages' SVG icons are well-formed and named."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from sensorium.pipeline.tools.web_icons import WEB_ICONS, svg


@pytest.mark.parametrize("label", list(WEB_ICONS))
@pytest.mark.parametrize("filled", [False, True])
def test_every_icon_is_valid_svg_of_the_asked_size(label, filled):
    root = ET.fromstring(svg(label, 20, 2.0, filled))
    assert root.get("width") == "20" and root.get("viewBox") == "0 0 24 24" and len(root) >= 1


def test_an_unknown_icon_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown web icon 'Rocket'"):
        svg("Rocket", 20, 2.0, False)
