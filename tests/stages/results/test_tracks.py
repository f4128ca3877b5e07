"""Tracks: one row per live track, ids unique, names and trajectories through JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sensorium.stages.results import Tracks, result_from_dict
from sensorium.stages.results.tracks import LOST, TRACKED


def _tracks(ids, **extra):
    n = len(ids)
    return Tracks(track_id=np.asarray(ids), boxes=np.tile([0, 0, 10, 20], (n, 1)), scores=np.full(n, 0.9), class_id=np.zeros(n, np.int64),
                  state=np.asarray([TRACKED, LOST][:n]), item=np.asarray([0, -1][:n]), age=np.asarray([3, 7][:n]), of="detect", **extra)


def test_tracks_round_trip_with_names_and_trajectories():
    traj = np.full((2, 4, 3), np.nan, np.float32)
    traj[:, -2:] = [[0, 0, 2], [0, 0, 2.1]]
    t = _tracks([4, 9], xyz=np.ones((2, 3)), velocity=np.zeros((2, 3)), trajectory=traj, data={"name": np.array(["ada", None], dtype=object)})
    back = result_from_dict(json.loads(json.dumps(t.to_dict())))
    assert back == t and back.of == "detect" and back.data["name"].tolist() == ["ada", None]
    assert back[back.state == LOST].track_id.tolist() == [9]


def test_a_track_id_appears_once_per_frame():
    with pytest.raises(ValueError, match="unique"):
        _tracks([3, 3])
