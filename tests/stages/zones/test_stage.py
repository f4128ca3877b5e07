"""The zones stage over generated track sequences with exact counts (no model, no Ray)."""

from __future__ import annotations

import json

import numpy as np

from sensorium.stages.base import build_stage, get_stage_class
from sensorium.stages.frame import Frame
from sensorium.stages.results import Tracks, ZoneCounts, result_from_dict
from sensorium.stages.results.tracks import LOST, TRACKED

IMAGE = np.zeros((100, 200, 3), np.uint8)  # 200 x 100 pixels


def box_at(cx: float, cy: float, w: float = 10, h: float = 10) -> list[float]:
    """A w x h box centred on (cx, cy)."""
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def tracks(rows: list[tuple[int, list[float], bool]]) -> Tracks:
    """rows: (track id, box, lost) → the Tracks of one frame."""
    n = len(rows)
    return Tracks(track_id=np.array([r[0] for r in rows], np.int64), boxes=np.array([r[1] for r in rows], np.float32).reshape(n, 4),
                  scores=np.ones(n, np.float32), class_id=np.zeros(n, np.int64),
                  state=np.array([LOST if r[2] else TRACKED for r in rows], np.int64),
                  item=np.array([-1 if r[2] else i for i, r in enumerate(rows)], np.int64), age=np.zeros(n, np.int64), of="detect")


def frames(sequence: list[list[tuple[int, list[float], bool]]], source_id: str = "cam") -> list[Frame]:
    """One frame per entry of ``sequence``, each with its ``track`` result."""
    return [Frame(source_id, seq, image=IMAGE, results={"track": tracks(rows)}) for seq, rows in enumerate(sequence)]

CONFIG = {
    "zones": {"cam": [{"name": "left_half", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}]},
    "lines": {"cam": [{"name": "gate", "start": [100, 0], "end": [100, 100]}]},
}


def _run(sequence, config=CONFIG):
    stage = build_stage("zones", config)
    out = stage(frames(sequence))
    return [f.results.get("zones") for f in out], out


def test_the_stage_is_ordered_and_needs_tracks():
    cls = get_stage_class("zones")
    assert cls.ordered and cls.requires == ("track",)


def test_a_track_walking_right_then_back():
    xs = [40, 60, 80, 120, 140, 120, 80, 60]
    results, _ = _run([[(5, box_at(x, 50), False)] for x in xs])
    gate = [r.lines[0] for r in results]
    assert [(g.crossed_in, g.crossed_out) for g in gate] == [((), ())] * 3 + [((5,), ())] + [((), ())] * 2 + [((), (5,))] + [((), ())]
    assert (gate[-1].in_count, gate[-1].out_count) == (1, 1)
    zone = results[-1].zones[0]
    # bottom-centre anchor: x < 100 is inside the left half (200 px wide image)
    assert zone.entered == 1 and zone.left == 1 and zone.inside == (5,)
    assert results[-1].totals() == {"zones": {"left_half": {"inside": 1, "entered": 1, "left": 1}}, "lines": {"gate": {"in": 1, "out": 1}}}
    assert zone.polygon == ((0, 0), (100, 0), (100, 100), (0, 100))


def test_occlusion_then_reappearing_across_counts_once():
    seq = [[(1, box_at(80, 50), False)], [(1, box_at(95, 50), True)], [(1, box_at(110, 50), True)], [], [(2, box_at(130, 50), False)],
           [(1, box_at(130, 50), False)]]
    seq[3] = [(1, box_at(120, 50), True)]
    seq[4] = [(1, box_at(125, 50), False)]
    results, _ = _run(seq)
    assert [r.lines[0].in_count for r in results] == [0, 0, 0, 0, 1, 1]


def test_a_failed_upstream_frame_is_a_miss_not_a_crash():
    seq = frames([[(1, box_at(80, 50), False)], [(1, box_at(90, 50), False)], [(1, box_at(120, 50), False)]])
    broken = Frame("cam", 1, image=seq[1].image, errors={"track": "cam#1: track: failed"})
    stage = build_stage("zones", CONFIG)
    out = stage([seq[0], broken, seq[2]])
    assert "zones" not in out[1].results and "track failed" in out[1].errors["zones"]
    assert out[2].results["zones"].lines[0].crossed_in == (1,)


def test_sources_without_zones_get_empty_counts_and_json_round_trips():
    results, _ = _run([[(1, box_at(50, 50), False)]], {"zones": {"other": [{"name": "z", "polygon": [[0, 0], [1, 0], [0, 1]]}]}})
    assert results[0] == ZoneCounts() and len(results[0]) == 0
    full, _ = _run([[(1, box_at(50, 50), False)], [(1, box_at(150, 50), False)]])
    back = result_from_dict(json.loads(json.dumps(full[-1].to_dict())))
    assert back == full[-1] and back.lines[0].crossed_in == (1,)


def test_the_image_size_must_not_change_within_a_source():
    stage = build_stage("zones", CONFIG)
    first, second = frames([[(1, box_at(50, 50), False)]] * 2)
    second.image = np.zeros((50, 50, 3), np.uint8)
    stage([first, second])
    assert "changed size from 200x100 to 50x50" in second.errors["zones"]
