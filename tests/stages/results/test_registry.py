"""The result registry: every kind rebuilds from its JSON as an equal container."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sensorium.stages.results import (
    CoordinateSpace, Depth, Detections, Embeddings, Faces, Gaze, GuiAction, GuiStep, Keypoints, RESULT_KINDS, Rectification,
    LineTally, ScreenGeometry, Tracks, ZoneCounts, ZoneTally, result_from_dict,
)
from tests.stages.results.conftest import detections, rng


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
              rectification=Rectification(R=np.eye(3), K=np.diag([60.0, 60.0, 1.0]), D=np.zeros(5), P=np.diag([58.0, 58.0, 1.0])),
              metadata={"baseline_m": 0.12}),
        Tracks(track_id=[3, 8], boxes=rng.uniform(0, 50, (2, 4)), scores=[0.9, 0.4], class_id=[0, 0], state=[0, 1], item=[1, -1], age=[4, 30],
               velocity_px=rng.normal(size=(2, 2)), of="face", class_names=("face",), data={"name": np.array(["ada", None], dtype=object)}),
        GuiAction("click", thought="the OK button", x=10, y=20, raw="click(start_box='(10,20)')"),
        GuiAction("type", params={"content": "hello\n"}),
        GuiStep("Fill in the name.", (GuiAction("click", x=5, y=6), GuiAction("type", params={"content": "Ada", "submit": False})),
                raw="Thought: Fill in the name.\nAction: click(start_box='(5,6)')", space=CoordinateSpace.PHYSICAL_PX,
                screen=ScreenGeometry(width=640.0, height=400.0, dpr=2.0, image_width=1280, image_height=800), backend="local"),
        GuiStep("Nothing resolved yet."),
        Tracks(track_id=[3, 8], boxes=rng.uniform(0, 50, (2, 4)), scores=[0.9, 0.7], class_id=[0, 1], state=[0, 1], item=[0, -1], age=[4, 9],
               of="detect"),
        ZoneCounts((ZoneTally("door", [3], 2, 1, [3], [], [(0, 0), (9, 0), (9, 9)]),), (LineTally("gate", 1, 0, [8], [], (0, 5), (9, 5)),)),
    ]


@pytest.mark.parametrize("result", examples(), ids=lambda r: type(r).__name__)
def test_json_round_trip_restores_an_equal_container(result):
    text = json.dumps(result.to_dict())
    back = result_from_dict(json.loads(text))
    assert type(back) is type(result)
    assert back == result


def test_every_kind_is_covered_by_the_round_trip():
    assert {type(r).kind for r in examples()} == set(RESULT_KINDS)


def test_an_unknown_kind_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown result kind 'teleport'; known: \['depth', 'detections'"):
        result_from_dict({"kind": "teleport"})
