"""Zone and line series: gauges follow the inside lists, counters advance by each frame's events."""

from __future__ import annotations

from sensorium.pipeline.stream.metrics import PipelineMetrics
from sensorium.stages.results import LineTally, ZoneCounts, ZoneTally


def test_zone_and_line_series_follow_the_counts():
    m = PipelineMetrics()
    m.observe_zones("cam", ZoneCounts((ZoneTally("door", [1, 2], 2, 0, [1, 2], []),), (LineTally("gate", 1, 0, [1], []),)))
    m.observe_zones("cam", ZoneCounts((ZoneTally("door", [2], 2, 1, [], [1]),), (LineTally("gate", 1, 1, [], [2]),)))
    get = m.registry.get_sample_value
    assert get("sensorium_zone_tracks", {"source": "cam", "zone": "door"}) == 1
    assert get("sensorium_zone_entries_total", {"source": "cam", "zone": "door"}) == 2
    assert get("sensorium_zone_exits_total", {"source": "cam", "zone": "door"}) == 1
    assert get("sensorium_line_crossings_total", {"source": "cam", "line": "gate", "direction": "in"}) == 1
    assert get("sensorium_line_crossings_total", {"source": "cam", "line": "gate", "direction": "out"}) == 1
