"""DETR training math: data, collate, schedule, and that a tiny model learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sensorium.models.training.detr_loss import SetCriterion
from sensorium.models.zoo.detr_shapes import DetrConfig, _adaptive_max_pool2d, build_detr_from_config
from sensorium.models.training.detr_train import ShapesDetection, TrainConfig, collate, lr_factor, make_optimizer, stream_batch
from sensorium.models.data.shapes import ShapesConfig, make_image

TINY_SHAPES = ShapesConfig(size=64, min_scale=12.0, max_scale=40.0, max_objects=3, clutter=5)
TINY = DetrConfig(dim=32, heads=2, enc_layers=1, dec_layers=1, ffn_dim=64, num_queries=6, image_size=64)


def test_dataset_targets_are_normalised_cxcywh():
    ds = ShapesDetection(3, 2, shapes=TINY_SHAPES)
    img, t = ds[0]
    _, boxes, labels = make_image(3, 0, TINY_SHAPES)
    assert img.shape == (3, 64, 64) and img.dtype == torch.float32
    x1, y1, x2, y2 = boxes[0] / 64
    assert torch.allclose(t["boxes"][0], torch.tensor([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]))
    assert t["labels"].tolist() == labels.tolist()


def test_flip_mirrors_the_boxes():
    plain, flipped = ShapesDetection(5, 8, shapes=TINY_SHAPES), ShapesDetection(5, 8, flip=True, shapes=TINY_SHAPES)
    mirrored = 0
    for i in range(8):
        (a, ta), (b, tb) = plain[i], flipped[i]
        if torch.equal(a, b):
            assert torch.equal(ta["boxes"], tb["boxes"])
        else:
            mirrored += 1
            assert torch.equal(a.flip(-1), b)
            assert torch.allclose(1 - ta["boxes"][:, 0], tb["boxes"][:, 0]) and torch.equal(ta["boxes"][:, 1:], tb["boxes"][:, 1:])
    assert 0 < mirrored < 8


def test_collate_pads_with_a_mask():
    a = (torch.ones(3, 4, 6), {"labels": torch.zeros(0, dtype=torch.int64), "boxes": torch.zeros(0, 4)})
    b = (torch.ones(3, 5, 3), {"labels": torch.zeros(1, dtype=torch.int64), "boxes": torch.zeros(1, 4)})
    images, mask, targets = collate([a, b])
    assert images.shape == (2, 3, 5, 6) and mask.shape == (2, 5, 6)
    assert not mask[0, :4].any() and mask[0, 4].all() and mask[1, :, 3:].all() and not mask[1, :, :3].any()
    assert images[mask[:, None].expand_as(images)].abs().sum() == 0 and len(targets) == 2
    with pytest.raises(ValueError, match="empty batch"):
        collate([])


def test_stream_is_a_function_of_seed_and_step():
    a, b = stream_batch(1, 3, 2, shapes=TINY_SHAPES), stream_batch(1, 3, 2, shapes=TINY_SHAPES)
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], stream_batch(1, 4, 2, shapes=TINY_SHAPES)[0])


def test_lr_warms_up_then_decays():
    cfg = TrainConfig(steps=100, warmup=10, decay_at=(0.5,), decay=0.1)
    assert lr_factor(0, cfg) == pytest.approx(0.1) and lr_factor(9, cfg) == 1.0 and lr_factor(49, cfg) == 1.0
    assert lr_factor(50, cfg) == pytest.approx(0.1)


def test_optimizer_has_backbone_and_transformer_groups():
    model = build_detr_from_config(TINY)
    groups = {g["name"]: g for g in make_optimizer(model, TrainConfig(lr=1e-3, backbone_lr_mult=0.5)).param_groups}
    assert groups["backbone"]["lr"] == pytest.approx(5e-4) and groups["transformer"]["lr"] == pytest.approx(1e-3)
    assert sum(p.numel() for g in groups.values() for p in g["params"]) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("h, w", [(12, 12), (13, 17), (3, 5), (1, 1)])
def test_sliced_pooling_equals_adaptive_max_pool(h, w):
    x = torch.randn(2, 3, h, w)
    for b in (1, 2, 4):
        assert torch.equal(_adaptive_max_pool2d(x, b), torch.nn.functional.adaptive_max_pool2d(x, b))


def test_loss_decreases_on_a_tiny_model():
    torch.manual_seed(0)
    model = build_detr_from_config(TINY)
    criterion = SetCriterion(TINY.num_classes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images, mask, targets = stream_batch(0, 0, 4, shapes=TINY_SHAPES)
    losses = []
    for _ in range(25):
        loss = criterion(model.forward_train(images, mask), targets)["loss"]
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
