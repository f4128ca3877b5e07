"""The shipped gaze sigma head: pinned, and on held-out real faces informative and calibrated."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.models.hub.files import sha256_file
from sensorium.models.hub.weights import get_weights, resolve
from sensorium.models.zoo import gaze_sigma
from sensorium.stages.base import build_stage
from sensorium.stages.gaze.sigma import FEATURES

COVERAGE_TOL = 0.10  # the "2-sigma coverage within 10 points of its nominal value"
MIN_SPEARMAN = 0.2


def test_the_shipped_head_is_registered_pinned_and_flow_free():
    import onnx

    entry = get_weights(gaze_sigma.WEIGHTS_NAME)
    assert entry.sha256 == sha256_file(gaze_sigma.WEIGHTS_FILE) and resolve(entry.name) == gaze_sigma.WEIGHTS_FILE
    inits = {i.name for i in onnx.load(gaze_sigma.WEIGHTS_FILE).graph.initializer}
    assert {"mu.weight", "sigma.weight"} <= inits and not any("flow" in n or "coupling" in n for n in inits)
    meta = gaze_sigma.GazeSigmaHead(gaze_sigma.WEIGHTS_FILE, FEATURES).meta
    assert meta.order == ("yaw", "pitch") and "sensorium train gaze" in meta.extra["command"]


def test_sigma_is_informative_and_calibrated_on_held_out_faces(data_dir):
    """Fresh degradations (another seed than training's) of the held-out frames and photos."""
    from sensorium.pipeline.tools.train_gaze import collect, evaluate

    face, gaze = build_stage("face", {"recognizer": "none", "keep_chips": False}), build_stage("gaze", {"sigma_head": "none"})
    samples = collect(data_dir, "heldout", stride=4, per_image=5, seed=7, face_stage=face, gaze_stage=gaze)
    head = gaze_sigma.GazeSigmaHead(gaze_sigma.WEIGHTS_FILE, FEATURES)
    correction, sigma = head(samples["features"])
    m = evaluate(correction, sigma, samples, head.meta.coverage, head.meta.radius)
    assert m["samples"] >= 100
    assert m["spearman_sigma_error"] > MIN_SPEARMAN, m
    assert abs(m["coverage_2sigma"] - m["predicted_2sigma"]) <= COVERAGE_TOL, m
    # sigma is a scale: the learned density's own 68 % and 95 % regions (|error| <= k(p) sigma) hold what they say
    assert abs(m["coverage_p0.68"] - 0.68) <= COVERAGE_TOL and abs(m["coverage_p0.95"] - 0.95) <= COVERAGE_TOL, m
    assert m["mean_error_corrected_deg"] < m["mean_error_raw_deg"], m  # the correction helps on unseen faces


@pytest.mark.parametrize("values, message", [
    ({"features": ["a"], "mean": [0.0], "std": [1.0], "order": ["yaw", "pitch"], "scale": 1.0, "coverage": {}}, r"missing \['radius'\]"),
    ({"features": ["a", "b"], "mean": [0.0], "std": [1.0], "order": ["yaw", "pitch"], "scale": 1.0, "coverage": {}, "radius": {}},
     "expected mean and positive std of 2 features"),
])
def test_bad_metadata_is_named(values, message):
    with pytest.raises(ValueError, match=message):
        gaze_sigma.GazeSigmaMeta.from_json(values)


def test_a_head_for_other_features_is_refused():
    with pytest.raises(ValueError, match="trained on features"):
        gaze_sigma.GazeSigmaHead(gaze_sigma.WEIGHTS_FILE, FEATURES[:-1])
    head = gaze_sigma.GazeSigmaHead(gaze_sigma.WEIGHTS_FILE, FEATURES)
    with pytest.raises(ValueError, match=r"expected features \(N, 17\)"):
        head(np.zeros((2, 3), np.float32))
    mu, sigma = head(np.zeros((0, len(FEATURES)), np.float32))
    assert mu.shape == sigma.shape == (0, 2)
