"""The Rico grounding targets, read from the real view hierarchies."""

from __future__ import annotations

import json

import pytest

from sensorium.models.data.icons import ICONS
from sensorium.models.zoo.clip_icons import VOCABULARY
from sensorium.pipeline.tools.rico_targets import PLACEHOLDERS, STALE, gui_targets, targets
from sensorium.stages.gui.icons import known_name


def test_text_targets_are_clickable_labelled_nodes_in_image_pixels(data_dir):
    items = targets(data_dir / "gui")
    [demo] = [t for t in items if t.screen_id == "33685" and t.text == "Demo Mode"]
    assert demo.boxes == tuple([tuple(v * 1080 / 1440 for v in (70, 1276, 1370, 1434))])  # 1440-wide bounds, 1080-wide JPEG
    assert demo.contains(540, 1016) and not demo.contains(540, 900)
    assert all(0 < len(t.text) <= 40 and t.kind == "text" and not t.stale for t in items)
    assert all(b[2] > b[0] and b[3] > b[1] for t in items for b in t.boxes)


def test_nodes_under_an_open_drawer_and_audited_ones_are_apart(data_dir):
    everything = targets(data_dir / "gui", stale=True)
    stale = {(t.screen_id, t.text): t.stale for t in everything if t.stale}
    assert stale[("33609", "MANUALLY SELECT LOCATION")] == "under an open navigation drawer"  # the drawer covers that button
    assert ("33609", "HOME") not in stale  # the drawer's own items are on the screen
    assert all(stale[key] == why for key, why in STALE.items())
    assert len(targets(data_dir / "gui")) == len(everything) - len(stale)


def test_icon_targets_have_a_description_and_no_text_of_their_own(data_dir):
    icons = targets(data_dir / "gui", "icon")
    assert ("33651", "Navigate up") in {(t.screen_id, t.text) for t in icons}
    [more] = [t for t in icons if t.screen_id == "33617" and t.text == "More options"]  # a 540-wide JPEG
    assert more.boxes == (tuple(v * 540 / 1440 for v in (1244, 84, 1440, 252)),)
    assert all(t.kind == "icon" and 0 < len(t.text) <= 40 for t in icons)
    assert not any(t.text.lower() in PLACEHOLDERS for t in icons)  # "Image", "Logo", "default" name nothing
    assert not any(t.text == "Google Map" for t in icons)  # a map view filling the screen is no icon
    texts = {(t.screen_id, t.text) for t in targets(data_dir / "gui")}
    assert not texts & {(t.screen_id, t.text) for t in icons}
    assert len({(t.screen_id, t.text) for t in icons}) == len(icons)


def test_an_icon_under_an_open_drawer_is_not_scored(data_dir):
    """33609's app-bar CLOSE button lies under the open navigation drawer (checked on the screenshot)."""
    stale = {(t.screen_id, t.text): t.stale for t in targets(data_dir / "gui", "icon", stale=True) if t.stale}
    assert stale == {("33609", "CLOSE"): "under an open navigation drawer"}
    assert [(t.platform, t.kind) for t in gui_targets(data_dir / "gui", "icon")][:1] == [("mobile", "icon")]
    assert len(gui_targets(data_dir / "gui", "icon")) == len(targets(data_dir / "gui", "icon"))


def test_the_common_rico_icon_names_are_in_the_vocabulary_as_their_class(data_dir):
    """The content-desc values real apps use for standard icons map to the icon drawn for them."""
    expected = {"Navigate up": "back", "More options": "more", "Open Menu": "menu", "Search Word": "search",
                "Zoom in": "plus", "Zoom out": "minus", "Increase hour": "plus", "Decrease minute": "minus",
                "My Location": "location"}
    names = {t.text for t in targets(data_dir / "gui", "icon")}
    assert set(expected) <= names
    for desc, cls in expected.items():
        assert known_name(desc, VOCABULARY) in ICONS[cls], desc
    assert known_name("Page manager", VOCABULARY) is None and known_name("Shop", VOCABULARY) is None


@pytest.mark.parametrize("kind, error", [("button", ValueError), ("text", FileNotFoundError)])
def test_bad_arguments_say_what_was_wrong(tmp_path, kind, error):
    with pytest.raises(error, match="kind: expected|no Rico screenshots"):
        targets(tmp_path / "missing", kind)


def test_a_hierarchy_without_its_screenshot_is_named(tmp_path):
    (tmp_path / "1.json").write_text(json.dumps({"activity": {"root": {}}}))
    with pytest.raises(FileNotFoundError, match="1.json has no screenshot 1.jpg"):
        targets(tmp_path)
