"""Pairs for ``sensorium train embed``: the generated icon set is the one the icon model's provenance names."""

from __future__ import annotations

import numpy as np

from sensorium.models.data.icons import icon_pairs
from sensorium.pipeline.tools.train_embed import load_pairs


def test_generated_icons_are_data_seed_0_at_the_model_size():
    images, captions = load_pairs("generated-icons:8", 48)
    ref_images, ref_captions = icon_pairs(0, 8, 48)
    assert images.shape == (8, 48, 48, 3) and images.dtype == np.uint8
    assert np.array_equal(images, ref_images) and captions == ref_captions
