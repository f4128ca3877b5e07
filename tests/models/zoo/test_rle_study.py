"""The shipped RLE models on a fresh held-out generated split: sigma ranks errors and its regions
hold what the learned density says they hold."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from sensorium.models.data.eyes import eye_batch, gaze_vector
from sensorium.models.data.figures import figure_batch
from sensorium.models.hub.files import sha256_file
from sensorium.models.hub.weights import get_weights
from sensorium.models.rle import calibration as cal
from sensorium.models.zoo import rle_study

SEED, N = 7, 400  # a split neither training (0), calibration (1) nor the study's test (2) used


def _run(name: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(str(rle_study.onnx_path(name)), providers=["CPUExecutionProvider"])
    mu, sigma = session.run(None, {"images": images.astype(np.float32) / 255.0})
    return mu, sigma


@pytest.fixture(scope="module")
def figures():
    images, kp, inside = figure_batch(SEED, 0, N)
    mu, sigma = _run("rle_figures_keypoints", images)
    residual = (kp / 64 - 0.5 - mu)[inside]
    return residual, sigma[inside], np.linalg.norm(residual, axis=1) * 64


@pytest.fixture(scope="module")
def eyes():
    images, gaze = eye_batch(SEED, 0, N)
    mu, sigma = _run("rle_eyes_gaze", images)
    cos = np.sum(gaze_vector(*gaze.T) * gaze_vector(*mu.T), -1)
    return gaze - mu, sigma, np.degrees(np.arccos(np.clip(cos, -1, 1)))


@pytest.mark.parametrize("name", sorted(rle_study.MODELS))
def test_registered_with_pinned_sha256(name):
    entry = get_weights(name)
    assert entry.sha256 is not None and entry.sha256 == sha256_file(rle_study.onnx_path(name))
    meta = rle_study.load_meta(name)
    assert meta["sha256"] == entry.sha256 and "rle_study" in meta["command"]


@pytest.mark.parametrize("data", ["figures", "eyes"])
def test_sigma_is_informative_and_its_two_sigma_region_calibrated(data, request):
    residual, sigma, error = request.getfixturevalue(data)
    name = "rle_figures_keypoints" if data == "figures" else "rle_eyes_gaze"
    meta = rle_study.load_meta(name)
    assert cal.spearman(sigma.mean(1), error) > 0.2
    observed = cal.coverage(residual, sigma, rle_study.radius_for(meta, cal.TWO_SIGMA))
    assert abs(observed - cal.TWO_SIGMA) < 0.10, observed
    observed = cal.coverage(residual, sigma, rle_study.radius_for(meta, cal.ONE_SIGMA))
    assert abs(observed - cal.ONE_SIGMA) < 0.10, observed


def test_eye_model_yaw_flips_under_a_mirror(eyes):
    images, gaze = eye_batch(SEED, 0, 100)
    mu, _ = _run("rle_eyes_gaze", images)
    mirrored, _ = _run("rle_eyes_gaze", images[:, :, ::-1].copy())
    # a mirrored right eye is a left eye the model never saw: the sign must still flip
    assert np.mean(np.sign(mirrored[:, 0]) != np.sign(mu[:, 0])) > 0.8


def test_unknown_name_and_p_outside_the_table():
    with pytest.raises(ValueError, match="expected one of"):
        rle_study.onnx_path("rle_hands")
    with pytest.raises(ValueError, match="tabulated"):
        rle_study.radius_for(rle_study.load_meta("rle_eyes_gaze"), 0.999)
