"""A DETR weights file's contract (labels, normalisation, resize) read from its JSON, a
training checkpoint or the registry, so no stage guesses a public DETR's 800/1333 px."""

from __future__ import annotations

import json

import pytest
import torch

from sensorium.models.data.shapes import CLASSES
from sensorium.models.zoo.detr_contract import DetrContract, contract_for_weights, default_max_size, read_contract
from sensorium.models.zoo.detr_shapes import MEAN, STD


def test_the_shipped_model_is_192_by_320_with_its_classes():
    assert contract_for_weights("detr_spp_shapes") == DetrContract(labels=CLASSES, mean=MEAN, std=STD, min_size=192, max_size=320)


@pytest.mark.parametrize("meta, expected", [
    ({"labels": ["a"], "resize": {"min_size": 800, "max_size": 1333}, "mean": [1, 2, 3], "std": [4, 5, 6]},
     DetrContract(labels=("a",), mean=(1, 2, 3), std=(4, 5, 6), min_size=800, max_size=1333)),
    ({"labels": ["a", "b"], "config": {"image_size": 480}}, DetrContract(labels=("a", "b"), min_size=480, max_size=800)),
])
def test_a_json_beside_the_weights_says_it(tmp_path, meta, expected):
    (tmp_path / "w.json").write_text(json.dumps(meta))
    (tmp_path / "w.pt").write_bytes(b"")
    assert read_contract(tmp_path / "w.pt") == expected


def test_a_training_checkpoint_carries_its_own_and_a_bare_state_dict_is_refused(tmp_path):
    torch.save({"model": {}, "config": {"image_size": 64}, "labels": ["x"], "resize": {"min_size": 64, "max_size": 100}}, tmp_path / "last.pt")
    assert read_contract(tmp_path / "last.pt") == DetrContract(labels=("x",), min_size=64, max_size=100)
    torch.save({"w": torch.zeros(1)}, tmp_path / "bare.pt")
    with pytest.raises(FileNotFoundError, match="needs its contract"):
        read_contract(tmp_path / "bare.pt")
    with pytest.raises(FileNotFoundError, match="not found"):
        read_contract(tmp_path / "none.pt")


def test_detrs_ratio():
    assert (default_max_size(800), default_max_size(192), default_max_size(64)) == (1333, 320, 107)
