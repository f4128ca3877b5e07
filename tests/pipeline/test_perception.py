"""In-process perception: stages by name on one image, built once per (stage, options), checked
before anything runs, a failing stage recorded on the frame."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.pipeline.io.images import read_image
from sensorium.pipeline.perception import Perception
from sensorium.stages.config import ConfigError


def test_detect_runs_once_built_and_reused(data_dir):
    p = Perception(max_stages=2)
    image = read_image(data_dir / "photos" / "zidane.jpg")
    first = p.perceive(image, ["detect"])
    again = p.perceive(image, ["detect"], {"detect": {}})
    assert not first.errors and len(first.results["detect"]) > 0
    assert first.results["detect"] == again.results["detect"]
    assert len(p._stages) == 1  # same options: the same loaded stage
    p.perceive(image, ["detect"], {"detect": {"score_threshold": "0.9"}})
    assert len(p._stages) == 2


def test_a_stage_that_cannot_run_on_the_image_records_its_error():
    p = Perception()
    frame = p.perceive(np.zeros((4, 4, 3), np.uint8), ["depth"])  # no right image, no sensor depth
    assert "depth" in frame.errors and "depth" not in frame.results


@pytest.mark.parametrize("stages, options, error, match", [
    ([], None, ValueError, "name at least one stage"),
    (["detect", "detect"], None, ValueError, "each stage once"),
    (["nope"], None, ValueError, "unknown stage 'nope'"),
    (["detect"], {"face": {}}, ValueError, r"options for stage\(s\) face, which the request does not run"),
    (["detect"], {"detect": {"max_detections": "many"}}, ConfigError, "detect.max_detections: expected an integer, got 'many'"),
])
def test_bad_requests_fail_before_any_stage_loads(stages, options, error, match):
    p = Perception()
    with pytest.raises(error, match=match):
        p.perceive(np.zeros((8, 8, 3), np.uint8), stages, options)
    assert not p._stages


def test_an_ordered_stage_is_refused_before_anything_runs():
    from sensorium.pipeline.perception import request_configs
    from sensorium.stages.config import ConfigError

    with pytest.raises(ConfigError, match="'zones' keep state across one source's frames .*/v1/streams or `sensorium run`"):
        request_configs(["detect", "zones"], {"zones": {"tracks": "detect"}})
