"""The shipped DETR's normalisation comes from its weights' contract (registry entry or the
JSON beside a trained file), which the detect stage reads instead of a constant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sensorium.models.hub.weights import get_weights
from sensorium.models.zoo.detr_shapes import MEAN, STD, WEIGHTS_NAME, normalisation_for_weights


def test_a_registered_name_gives_its_entrys_mean_and_std():
    entry = get_weights(WEIGHTS_NAME)
    assert normalisation_for_weights(WEIGHTS_NAME) == (entry.mean, entry.std) == (MEAN, STD)


@pytest.mark.parametrize("blob, expected", [
    ({"mean": [1.0, 2.0, 3.0], "std": [4.0, 5.0, 6.0]}, ((1.0, 2.0, 3.0), (4.0, 5.0, 6.0))),
    ({"labels": ["a"]}, (MEAN, STD)),  # an older training JSON: the trainer's normalisation
    (None, (MEAN, STD)),
])
def test_a_trained_file_gives_the_json_beside_it(tmp_path: Path, blob, expected):
    pt = tmp_path / "model.pt"
    pt.write_bytes(b"not read")
    if blob is not None:
        (tmp_path / "model.json").write_text(json.dumps(blob))
    assert normalisation_for_weights(str(pt)) == expected
