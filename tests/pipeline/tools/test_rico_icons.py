"""Real icon targets from Rico's view hierarchies, and the shipped icon model measured on them."""

from __future__ import annotations

import pytest

from sensorium.models.data.icons import ICONS
from sensorium.pipeline.tools.gui_targets import evaluate, rates
from sensorium.pipeline.tools.rico_icons import PLACEHOLDERS, icon_targets
from sensorium.stages.gui.icons import known_name
from sensorium.models.zoo.clip_icons import VOCABULARY


def test_icon_targets_are_named_text_free_clickable_nodes_in_image_pixels(data_dir):
    items = icon_targets(data_dir / "gui")
    assert all(t.platform == "mobile" and t.kind == "icon" for t in items)
    [more] = [t for t in items if t.screen_id == "33617" and t.text == "More options"]  # a 540-wide JPEG
    assert more.boxes == (tuple(v * 540 / 1440 for v in (1244, 84, 1440, 252)),)
    assert not any(t.text.lower() in PLACEHOLDERS for t in items)  # "Image", "Logo", "default" name nothing
    assert not any(t.text == "Google Map" for t in items)  # a map view filling the screen is no icon
    assert len({(t.screen_id, t.text) for t in items}) == len(items)


def test_the_common_rico_icon_names_are_in_the_vocabulary_as_their_class(data_dir):
    """The content-desc values real apps use for standard icons map to the icon drawn for them."""
    expected = {"Navigate up": "back", "More options": "more", "CLOSE": "close", "Open Menu": "menu", "Search Word": "search",
                "Zoom in": "plus", "Zoom out": "minus", "Increase hour": "plus", "Decrease minute": "minus",
                "My Location": "location"}
    names = {t.text for t in icon_targets(data_dir / "gui")}
    assert set(expected) <= names
    for desc, cls in expected.items():
        assert known_name(desc, VOCABULARY) in ICONS[cls], desc
    assert known_name("Page manager", VOCABULARY) is None and known_name("Shop", VOCABULARY) is None


@pytest.mark.slow
def test_the_icon_model_clicks_most_real_icons_and_rarely_a_wrong_one(data_dir):
    """Every Rico icon target (43) with the shipped model. Measured (docs/benchmarks.md): 18 hits
    (41.9%), 9 wrong clicks (20.9%, four of them text matches of the name elsewhere), 16
    call_user. The issue's goal (>= 0.60) is not reached; this floor guards what is."""
    from sensorium.pipeline.tools.gui_benchmark import icon_agent

    results = evaluate(icon_agent(), icon_targets(data_dir / "gui"))
    r = rates(results)
    misses = [(o.target.screen_id, o.target.text, o.outcome) for o in results if o.outcome != "hit"]
    assert r["hit"] >= 0.35, misses
    assert r["wrong_click"] <= 0.25, misses
