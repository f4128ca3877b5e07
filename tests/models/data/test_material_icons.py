"""Material Icons drawn from Debian's font (scripts/install-system-deps.sh installs it) and
the names they are captioned with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sensorium.models.data.material_icons import DRAWN, SYNONYMS, class_names, glyph_mask, load_font, material_pairs, render_material
from sensorium.models.data.icons import ICONS
from sensorium.models.data.material_names import CLASSES
from sensorium.pipeline.tools.material_labels import FONT, SCSS, parse_codepoints


@pytest.mark.parametrize("cls", ["more_vert", "arrow_back", "settings", "zoom_in"])
def test_a_glyph_renders_its_own_shape(cls):
    mask = glyph_mask(FONT, CLASSES[cls][0], 48)
    assert mask.shape == (48, 48) and 40 < (mask > 128).sum() < 0.8 * 48 * 48
    assert not np.array_equal(mask, glyph_mask(FONT, CLASSES["home"][0], 48))


def test_a_tile_is_the_glyph_in_its_colours_on_its_surface():
    tile = render_material(FONT, "more_vert", 32, (20, 20, 20), (250, 250, 250), np.random.default_rng(0), fill=0.8)
    assert tile.shape == (32, 32, 3) and tile.dtype == np.uint8
    assert tile.min() < 60 and (tile.reshape(-1, 3) == 250).all(1).mean() > 0.6  # dark dots on a mostly light tile


@pytest.mark.parametrize("cls, expected", [
    ("more_vert", ("more vert", "more options", "overflow")),  # its name in words first, then what apps call it
    ("arrow_back", ("arrow back", "navigate up", "back")),
    ("settings", ("settings", "gear", "cog")),  # our drawn gear's names join the class it draws
    ("close", ("close", "clear", "cancel")),  # "clear" draws the same glyph: one class
    ("zoom_out_map", ("zoom out map",)),  # any other icon of the font: its own name
])
def test_names_map_as_stated(cls, expected):
    names = class_names(cls)
    assert names[: 1] == expected[:1] and set(expected) <= set(names) and len(set(names)) == len(names)


def test_every_drawn_class_and_synonym_has_its_material_class():
    assert set(DRAWN) == set(ICONS) and all(v in CLASSES for v in DRAWN.values())
    aliases = {n for _, names in CLASSES.values() for n in names}
    assert set(SYNONYMS) <= aliases
    with pytest.raises(ValueError, match="unknown Material icon class 'unicorn'"):
        class_names("unicorn")


def test_the_label_map_is_the_fonts():
    codepoints = parse_codepoints(Path(SCSS).read_text())
    # a class's codepoint is one of its names'; its other names draw the same glyph
    assert all(cp in {codepoints[n] for n in names} for cp, names in CLASSES.values())
    for cp, names in CLASSES.values():
        assert all(np.array_equal(glyph_mask(FONT, codepoints[n], 32), glyph_mask(FONT, cp, 32)) for n in names[:3]), names
    assert 2000 <= len(CLASSES) <= len(codepoints)


def test_pairs_are_a_function_of_seed_and_index():
    a, caps_a = material_pairs(FONT, 0, 6, 48)
    b, caps_b = material_pairs(FONT, 0, 6, 48)
    c, _ = material_pairs(FONT, 1, 6, 48)
    assert a.shape == (6, 48, 48, 3) and np.array_equal(a, b) and caps_a == caps_b and not np.array_equal(a, c)
    assert all(isinstance(t, str) and t for t in caps_a)


def test_a_bad_font_path_says_what_was_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file at .*missing.ttf.*fonts-material-design-icons-iconfont"):
        load_font(str(tmp_path / "missing.ttf"), 24)
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font")
    with pytest.raises(ValueError, match="not a font FreeType can read"):
        material_pairs(str(junk), 0, 2)
