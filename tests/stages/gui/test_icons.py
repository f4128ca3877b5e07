"""Icon candidates and crops (no model), the icon config, and the shipped icon model's weights."""

from __future__ import annotations

import json
from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from sensorium.models.data.icons import toolbar_screen
from sensorium.stages.embed.stage import EmbedStage
from sensorium.stages.config import config_from_dict
from sensorium.stages.gui.icons import IconConfig, IconGrounder, icon_blobs, icon_candidates, part_groups, square_crop
from sensorium.stages.gui.local import element_boxes


def _within(inner, outer, pad=3):
    return inner[0] >= outer[0] - pad and inner[1] >= outer[1] - pad and inner[2] <= outer[2] + pad and inner[3] <= outer[3] + pad


#: glyphs of one connected outline; the candidate finder does not yet join a narrow "more"
#: (three dots in a column) or widely spaced menu bars into one square-ish blob
SOLID = ("gear", "search", "heart", "star", "home", "trash", "bell", "mail", "plus", "close", "arrow", "user", "play",
         "check", "lock", "back", "share", "edit", "refresh", "location")


@pytest.mark.parametrize("seed, sizes", [(200, (20, 40)), (201, (14, 22)), (202, (40, 56))])
def test_every_icon_is_one_candidate_and_text_buttons_none(seed, sizes):
    classes = tuple(SOLID[i] for i in np.random.default_rng(seed).permutation(len(SOLID))[:6])
    screen = toolbar_screen(seed, 0, sizes=sizes, classes=classes)
    h, w = screen.image.shape[:2]
    # the text buttons and the page's text stand in for OCR lines here
    words = list(screen.buttons.values()) + [(30, screen.boxes[0][3] + 8, w - 1, h - 1)]
    groups = icon_candidates(screen.image, words, element_boxes(screen.image))
    for box in screen.boxes:
        assert sum(_within(g[0], box) for g in groups) == 1, (box, [g[0] for g in groups])
    for box in screen.buttons.values():
        assert not any(_within(g[0], box) for g in groups)


def test_a_glyph_in_separate_strokes_is_one_blob():
    img = np.full((60, 60, 3), 255, np.uint8)
    for y in (20, 28, 36):  # a menu icon: three bars 8 px apart
        img[y: y + 3, 18:42] = 0
    blobs = icon_blobs(img)
    assert any(_within((18, 20, 42, 39), b) and _within(b, (18, 20, 42, 39)) for b in blobs), blobs


def test_square_crop_is_square_and_repeats_edges_outside_the_image():
    img = np.zeros((50, 80, 3), np.uint8)
    img[:, :40] = 200
    crop = square_crop(img, (0, 0, 20, 10))  # at the top-left corner: half of it lies outside
    assert crop.shape == (25, 25, 3)
    assert (crop == 200).all()


@pytest.mark.parametrize("options, expectation", [
    ({}, does_not_raise()),
    ({"threshold": 1.5}, pytest.raises(ValueError, match="threshold")),
    ({"margin": -0.1}, pytest.raises(ValueError, match="margin")),
    ({"colour": "red"}, pytest.raises(ValueError, match="unknown option")),
    ({"family": "dino"}, pytest.raises(ValueError, match="family: expected clip or siglip, got 'dino'")),
])
def test_icon_config_validates(options, expectation):
    with expectation:
        IconGrounder(config_from_dict(IconConfig, options))


def test_the_grounder_takes_only_a_built_icon_config():
    with pytest.raises(TypeError, match="expected an IconConfig"):
        IconGrounder({"weights": "clip_icons"})


def test_a_checkpoint_without_its_architecture_is_refused(tmp_path):
    ckpt = tmp_path / "mine.pt"
    ckpt.write_bytes(b"x")
    with pytest.raises(ValueError, match="architecture"):
        IconGrounder(IconConfig(weights=str(ckpt)), embedder=EmbedStage).setup()


def test_shipped_icon_weights_are_registered_and_verified():
    from sensorium.models.zoo import clip_icons
    from sensorium.models.hub.weights import get_weights, status

    entry = get_weights(clip_icons.WEIGHTS_NAME)
    st = status(entry.name)
    assert st.present and st.verified, st.detail
    assert entry.labels and "gear" in entry.labels
    # the entry's contract, the architecture file and the provenance JSON beside the weights agree
    config = json.loads(clip_icons.CONFIG_FILE.read_text())
    provenance = json.loads(clip_icons.WEIGHTS_FILE.with_suffix(".json").read_text())
    assert entry.input_size == (config["vision_cfg"]["image_size"],) * 2 == (provenance["data"]["image_size"],) * 2
    assert provenance["sha256"] == entry.sha256 and tuple(provenance["labels"]) == entry.labels


@pytest.mark.parametrize("glyph, spans", [
    ("more options", [(14, 28, 6, 6), (26, 28, 6, 6), (38, 28, 6, 6)]),  # three dots in a column, 6 px apart
    ("pause", [(18, 20, 24, 6), (18, 34, 24, 6)]),  # two bars side by side
])
def test_a_glyph_of_separate_parts_is_one_blob(glyph, spans):
    img = np.full((60, 60, 3), 255, np.uint8)
    for y, x, h, w in spans:
        img[y: y + h, x: x + w] = 0
    whole = (min(x for _, x, _, _ in spans), min(y for y, _, _, _ in spans),
             max(x + w for _, x, _, w in spans), max(y + h for y, _, h, _ in spans))
    assert any(_within(whole, b) and _within(b, whole) for b in icon_blobs(img)), (glyph, icon_blobs(img))


def test_parts_unlike_in_size_or_out_of_line_are_not_joined():
    assert part_groups([(10, 10, 15, 15), (20, 10, 40, 30)]) == []  # a dot beside a larger shape
    assert part_groups([(10, 10, 15, 15), (30, 40, 35, 45)]) == []  # alike but on no common row or column
    assert part_groups([(10, 10, 30, 30), (40, 10, 60, 30)]) == []  # two icons side by side
    assert part_groups([(10, 10, 15, 15), (20, 10, 25, 15)]) == [(10, 10, 25, 15)]
