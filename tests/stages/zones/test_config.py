"""The zones stage's config from YAML-like values: per source, pixels or fractions, named errors."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from sensorium.stages.base import build_config
from sensorium.stages.config import ConfigError

TRIANGLE = [[0, 0], [100, 0], [50, 80]]


@pytest.mark.parametrize("options, raises", [
    ({"zones": {"cam": [{"name": "door", "polygon": TRIANGLE}]}}, does_not_raise()),
    ({"lines": {"cam": [{"name": "gate", "start": [0, 5], "end": [10, 5]}]}, "min_frames": "2", "anchor": "center"}, does_not_raise()),
    ({"zones": {"cam": [{"name": "door", "polygon": TRIANGLE[:2]}]}}, pytest.raises(ConfigError, match="zones.cam\\[0\\]: zone 'door': a polygon needs at least 3 points")),
    ({"zones": {"cam": [{"name": "a", "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]}]}}, pytest.raises(ConfigError, match="intersects itself")),
    ({"zones": {"cam": [{"polygon": TRIANGLE}]}}, pytest.raises(ConfigError, match="a zone needs a name")),
    ({"zones": {"cam": [{"name": "door", "polygon": TRIANGLE, "colour": "red"}]}}, pytest.raises(ConfigError, match="unknown option\\(s\\) colour")),
    ({"zones": {"cam": {"name": "door"}}}, pytest.raises(ConfigError, match="zones.cam: expected a list")),
    ({"zones": ["door"]}, pytest.raises(ConfigError, match="zones.zones: expected a mapping")),
    ({"lines": {"cam": [{"name": "gate", "start": [5, 5], "end": [5, 5]}]}}, pytest.raises(ConfigError, match="start and end are the same point")),
    ({"lines": {"cam": [{"name": "x", "start": [0, 0], "end": [5, 5]}]}, "zones": {"cam": [{"name": "x", "polygon": TRIANGLE}]}},
     pytest.raises(ConfigError, match="source 'cam': zone/line name\\(s\\) x used twice")),
    ({"anchor": "middle"}, pytest.raises(ConfigError, match="zones.anchor: expected one of center")),
    ({"min_frames": 0}, pytest.raises(ConfigError, match="min_frames: expected an integer >= 1")),
])
def test_zones_config(options, raises):
    with raises:
        build_config("zones", options)


def test_fractions_or_pixels():
    cfg = build_config("zones", {"zones": {"cam": [{"name": "half", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]},
                                                   {"name": "px", "polygon": TRIANGLE}]},
                                 "lines": {"cam": [{"name": "mid", "start": [0.5, 0], "end": [0.5, 1]}]}})
    half, px = cfg.zones["cam"]
    assert half.pixels(640, 480).tolist() == [[0, 0], [320, 0], [320, 480], [0, 480]]
    assert np.array_equal(px.pixels(640, 480), np.array(TRIANGLE, float))
    start, end = cfg.lines["cam"][0].pixels(640, 480)
    assert start.tolist() == [320, 0] and end.tolist() == [320, 480]


def test_source_ids_checked_against_the_run():
    cfg = build_config("zones", {"zones": {"cam9": [{"name": "door", "polygon": TRIANGLE}]}})
    cfg.check_sources(["cam9", "cam1"])
    with pytest.raises(ConfigError, match="zones: source\\(s\\) 'cam9' not in this run \\(sources: cam0, cam1\\)"):
        cfg.check_sources(["cam0", "cam1"])


def test_star_stands_for_every_other_source():
    cfg = build_config("zones", {"zones": {"*": [{"name": "any", "polygon": TRIANGLE}], "cam": [{"name": "own", "polygon": TRIANGLE}]},
                                 "lines": {"*": [{"name": "gate", "start": [0, 5], "end": [10, 5]}]}})
    cfg.check_sources(["cam", "s-1234"])
    assert [z.name for z in cfg.for_source("s-1234")[0]] == ["any"] and [ln.name for ln in cfg.for_source("s-1234")[1]] == ["gate"]
    assert [z.name for z in cfg.for_source("cam")[0]] == ["own"] and cfg.for_source("cam")[1] == ()
