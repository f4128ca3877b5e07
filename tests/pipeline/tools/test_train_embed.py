"""Pairs for ``sensorium train embed``: the generated icon set is the one the icon model's provenance names."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.models.data.icons import icon_pairs
from sensorium.pipeline.tools.train_embed import load_pairs


def test_generated_icons_are_data_seed_0_at_the_model_size():
    images, captions = load_pairs("generated-icons:8", 48)
    ref_images, ref_captions = icon_pairs(0, 8, 48)
    assert images.shape == (8, 48, 48, 3) and images.dtype == np.uint8
    assert np.array_equal(images, ref_images) and captions == ref_captions


def test_material_icons_are_drawn_from_the_font_given(tmp_path):
    from sensorium.models.data.material_icons import material_pairs
    from sensorium.pipeline.tools.train_embed import MATERIAL_FONT

    images, captions = load_pairs("material-icons:4", 48)
    expected, expected_captions = material_pairs(MATERIAL_FONT, 0, 4, 48)
    assert images.shape == (4, 48, 48, 3) and np.array_equal(images, expected) and captions == expected_captions
    with pytest.raises(FileNotFoundError, match="Material Icons font: no file at"):
        load_pairs("material-icons:4", 48, font=str(tmp_path / "none.ttf"))
