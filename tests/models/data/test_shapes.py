"""The generated detection data: deterministic, exact boxes, varied scales."""

from __future__ import annotations

import numpy as np

from sensorium.models.data.shapes import CLASSES, ShapesConfig, make_image


def test_deterministic_per_seed_and_index():
    a, b = make_image(0, 5), make_image(0, 5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(make_image(1, 5)[0], a[0])


def test_boxes_inside_and_labels_valid():
    cfg = ShapesConfig()
    sides = []
    for i in range(60):
        img, boxes, labels = make_image(3, i, cfg)
        assert img.shape == (cfg.size, cfg.size, 3) and img.dtype == np.uint8
        assert cfg.min_objects <= len(boxes) <= cfg.max_objects
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= cfg.size).all() and (boxes[:, 2:] > boxes[:, :2]).all()
        assert ((labels >= 0) & (labels < len(CLASSES))).all()
        sides += list(boxes[:, 2] - boxes[:, 0])
    sides = np.array(sides)
    # COCO buckets by area: small < 32², large > 96²; the data set needs both
    assert (sides < 32).mean() > 0.2 and (sides > 96).mean() > 0.05


def test_objects_are_drawn_where_the_boxes_say():
    img, boxes, _ = make_image(7, 1, ShapesConfig(clutter=0, min_scale=40, max_scale=60))
    bg, _, _ = make_image(7, 1, ShapesConfig(clutter=0, min_objects=0, max_objects=0))
    changed = np.abs(img.astype(int) - bg.astype(int)).sum(2) > 0
    for x1, y1, x2, y2 in boxes.astype(int):
        assert changed[y1:y2, x1:x2].mean() > 0.2
    inside = np.zeros_like(changed)
    for x1, y1, x2, y2 in boxes.astype(int):
        inside[max(y1 - 2, 0):y2 + 3, max(x1 - 2, 0):x2 + 3] = True  # anti-aliasing bleeds ~1.5 px
    assert not changed[~inside].any()
