"""Result containers: validation, indexing, merge, and JSON round trips."""

from __future__ import annotations

import json
from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from sensorium.stages.arrays import LIST_LIMIT, decode_array, encode_array
from sensorium.stages.results import (
    Depth, Detections, Embeddings, Faces, Gaze, GuiAction, GuiStep, Keypoints, RESULT_KINDS, result_from_dict,
)

rng = np.random.default_rng(0)


def detections(n: int = 3) -> Detections:
    return Detections(
        boxes=rng.uniform(0, 100, (n, 4)), scores=rng.uniform(0, 1, n), class_id=np.arange(n),
        class_names=("a", "b", "c"), data={"track": np.arange(n) + 10, "label": np.array(["x"] * n, dtype=object)},
        metadata={"model": "detr", "size": [640, 480]},
    )


def examples():
    return [
        detections(),
        Detections.empty(),
        Faces(boxes=rng.uniform(0, 50, (2, 4)), scores=[0.9, 0.8], landmarks=rng.uniform(0, 50, (2, 5, 2)),
              quality=[0.5, 0.7], embeddings=rng.normal(size=(2, 128)), similarity=[0.3, np.nan],
              data={"identity": np.array(["alice", None], dtype=object)}),
        Keypoints(xy=rng.uniform(0, 9, (1, 17, 2)), sigma=rng.uniform(0, 2, (1, 17, 2)), scores=rng.uniform(0, 1, (1, 17)), names=tuple(f"k{i}" for i in range(17))),
        Gaze(yaw_pitch=[[0.1, -0.2]], sigma=[[0.05, 0.04]], origin=[[100.0, 80.0]]),
        Embeddings(vectors=rng.normal(size=(4, 512)), model="ViT-B-32"),
        Depth(depth=rng.uniform(0, 5, (48, 64)), confidence=rng.uniform(0, 1, (48, 64)), K=np.eye(3),
              disparity=rng.uniform(0, 64, (48, 64)), points=rng.normal(size=(10, 3)), colors=rng.integers(0, 255, (10, 3), dtype=np.uint8),
              metadata={"R_rect": np.eye(3)}),
        GuiAction("click", thought="the OK button", x=10, y=20, raw="click(start_box='(10,20)')"),
        GuiAction("type", params={"content": "hello\n"}),
        GuiStep("Fill in the name.", (GuiAction("click", x=5, y=6), GuiAction("type", params={"content": "Ada", "submit": False})),
                raw="Thought: Fill in the name.\nAction: click(start_box='(5,6)')", metadata={"space": "physical_px", "screen": {"dpr": 2.0}}),
    ]


@pytest.mark.parametrize("result", examples(), ids=lambda r: type(r).__name__)
def test_json_round_trip_restores_an_equal_container(result):
    text = json.dumps(result.to_dict())
    back = result_from_dict(json.loads(text))
    assert type(back) is type(result)
    assert back == result


def test_every_kind_is_covered_by_the_round_trip():
    assert {type(r).kind for r in examples()} == set(RESULT_KINDS)


@pytest.mark.parametrize("shape, dtype", [((3,), np.float32), ((LIST_LIMIT + 1,), np.float32), ((2, 3), np.int64), ((100, 100), np.uint16), ((0, 4), np.float32)])
def test_arrays_encode_exactly(shape, dtype):
    a = (rng.normal(size=shape) * 100).astype(dtype)
    back = decode_array(json.loads(json.dumps(encode_array(a))))
    assert back.dtype == a.dtype and back.shape == a.shape and np.array_equal(back, a)


def test_nan_survives_json():
    a = np.array([1.0, np.nan, np.inf], np.float32)
    back = decode_array(json.loads(json.dumps(encode_array(a))))
    assert back[0] == 1.0 and np.isnan(back[1]) and np.isnan(back[2])  # inf is not JSON: stored as unknown


def test_indexing_by_mask_index_and_slice():
    d = detections(4)
    assert len(d) == 4
    m = d[np.array([True, False, True, False])]
    assert len(m) == 2 and np.array_equal(m.boxes, d.boxes[[0, 2]]) and list(m.data["track"]) == [10, 12]
    assert len(d[1]) == 1 and len(d[1:3]) == 2 and len(d[[3, 0]]) == 2
    assert m.class_names == d.class_names and m.metadata == d.metadata
    with pytest.raises(ValueError, match="boolean mask"):
        d[np.array([True, False])]


def test_merge_concatenates_and_checks_fields():
    a, b = detections(2), detections(3)
    m = Detections.merge([a, b])
    assert len(m) == 5 and np.array_equal(m.scores, np.concatenate([a.scores, b.scores]))
    assert len(Detections.merge([])) == 0
    with pytest.raises(ValueError, match="data keys differ"):
        Detections.merge([a, Detections(boxes=b.boxes, scores=b.scores, class_id=b.class_id)])


@pytest.mark.parametrize("kwargs, expectation", [
    (dict(boxes=np.zeros((2, 4)), scores=np.zeros(2), class_id=np.zeros(2, int)), does_not_raise()),
    (dict(boxes=np.zeros((2, 5)), scores=np.zeros(2), class_id=np.zeros(2, int)), pytest.raises(ValueError, match=r"boxes: expected shape \(N, 4\), got \(2, 5\)")),
    (dict(boxes=np.zeros((2, 4)), scores=np.zeros(3), class_id=np.zeros(2, int)), pytest.raises(ValueError, match="expected 2 items")),
    (dict(boxes=np.zeros((2, 4)), scores=np.zeros(2)), pytest.raises(ValueError, match="class_id is required")),
    (dict(boxes=np.zeros((2, 4)), scores=np.zeros(2), class_id=np.zeros(2, int), data={"x": np.zeros(3)}), pytest.raises(ValueError, match=r"data\['x'\]")),
    (dict(boxes=np.full((1, 4), "a"), scores=np.zeros(1), class_id=np.zeros(1, int)), pytest.raises(ValueError, match="dtype")),
])
def test_detections_validate_on_construction(kwargs, expectation):
    with expectation:
        Detections(**kwargs)


@pytest.mark.parametrize("kwargs, expectation", [
    (dict(depth=np.zeros((4, 5)), confidence=np.zeros((4, 5)), K=np.eye(3)), does_not_raise()),
    (dict(depth=np.zeros((4, 5, 1)), confidence=np.zeros((4, 5)), K=np.eye(3)), pytest.raises(ValueError, match="Depth.depth: expected 2-d")),
    (dict(depth=np.zeros((4, 5)), confidence=np.zeros((5, 4)), K=np.eye(3)), pytest.raises(ValueError, match="Depth.confidence")),
    (dict(depth=np.zeros((4, 5)), confidence=np.zeros((4, 5)), K=np.eye(4)), pytest.raises(ValueError, match="Depth.K")),
    (dict(depth=np.zeros((4, 5)), confidence=np.zeros((4, 5)), K=np.eye(3), points=np.zeros((2, 3))), pytest.raises(ValueError, match="points and colors")),
])
def test_depth_validates_on_construction(kwargs, expectation):
    with expectation:
        Depth(**kwargs)


def test_depth_summary_is_small_and_json():
    d = Depth(depth=np.array([[0, 1], [2, 3]], np.float32), confidence=np.ones((2, 2)), K=np.eye(3))
    s = json.loads(json.dumps(d.summary()))
    assert s["valid_fraction"] == 0.75 and s["depth_min_m"] == 1 and s["depth_max_m"] == 3 and s["depth_median_m"] == 2


def test_gui_action_checks_type_and_coordinates():
    with pytest.raises(ValueError, match="expected one of"):
        GuiAction("teleport")
    with pytest.raises(ValueError, match="x and y"):
        GuiAction("click", x=1.0)


def test_gaze_vectors_are_unit_and_look_at_the_camera_at_zero():
    g = Gaze(yaw_pitch=[[0.0, 0.0], [0.3, -0.2]], sigma=np.zeros((2, 2)))
    v = g.vectors
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0) and np.allclose(v[0], [0, 0, -1])


def test_keypoints_need_matching_sigma():
    with pytest.raises(ValueError, match="differ|expected"):
        Keypoints(xy=np.zeros((1, 17, 2)), sigma=np.zeros((1, 16, 2)))
